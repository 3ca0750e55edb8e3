//! Which clips say a call, in which order. Pure: no audio, no files.

use crate::config::{Lang, Voice};
use crate::engine::{TicketNumber, WindowNo};

/// One recorded clip.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Clip {
    Chime,
    /// A ticket prefix letter, read by its name.
    Letter(char),
    Digit(Lang, u8),
    /// 十 (Mandarin).
    Ten,
    /// 百 (Mandarin) or "hundred".
    Hundred(Lang),
    /// 两: 2 said as a quantity.
    Liang,
    /// An English number word from 10 to 19, or a multiple of ten to 90.
    EnNumber(u8),
    /// A template word from the language's `words.toml`.
    Word(Lang, String),
}

/// A clip, or silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Clip(Clip),
    /// The voice's gap between clips.
    Gap,
    /// The longer pause between repeats.
    Pause,
}

/// A ticket number read character by character: its letters by name, its
/// digits one by one (A023 → A 零 二 三).
fn ticket_clips(lang: Lang, ticket: &str, out: &mut Vec<Clip>) {
    for ch in ticket.chars() {
        match ch.to_digit(10) {
            Some(d) => out.push(Clip::Digit(lang, d as u8)),
            None => out.push(Clip::Letter(ch.to_ascii_uppercase())),
        }
    }
}

/// A window number read as a number (十二, "twelve"), 1 to 999.
pub fn number_clips(lang: Lang, n: u16, liang: bool, out: &mut Vec<Clip>) {
    let n = n.min(999);
    match lang {
        Lang::Zh => zh_number(n, liang, out),
        Lang::En => en_number(n, out),
    }
}

fn zh_number(n: u16, liang: bool, out: &mut Vec<Clip>) {
    let digit = |d: u16| Clip::Digit(Lang::Zh, d as u8);
    match n {
        2 if liang => out.push(Clip::Liang),
        0..=9 => out.push(digit(n)),
        10..=19 => {
            out.push(Clip::Ten);
            if n % 10 != 0 {
                out.push(digit(n % 10));
            }
        }
        20..=99 => {
            out.push(digit(n / 10));
            out.push(Clip::Ten);
            if n % 10 != 0 {
                out.push(digit(n % 10));
            }
        }
        _ => {
            out.push(digit(n / 100));
            out.push(Clip::Hundred(Lang::Zh));
            let rest = n % 100;
            match rest {
                0 => {}
                1..=9 => {
                    out.push(digit(0));
                    out.push(digit(rest));
                }
                // 一百一十二: after a hundred, the ten is said with its one.
                10..=19 => {
                    out.push(digit(1));
                    zh_number(rest, false, out);
                }
                _ => zh_number(rest, false, out),
            }
        }
    }
}

fn en_number(n: u16, out: &mut Vec<Clip>) {
    match n {
        0..=9 => out.push(Clip::Digit(Lang::En, n as u8)),
        10..=19 => out.push(Clip::EnNumber(n as u8)),
        20..=99 => {
            out.push(Clip::EnNumber((n / 10 * 10) as u8));
            if n % 10 != 0 {
                out.push(Clip::Digit(Lang::En, (n % 10) as u8));
            }
        }
        _ => {
            out.push(Clip::Digit(Lang::En, (n / 100) as u8));
            out.push(Clip::Hundred(Lang::En));
            if n % 100 != 0 {
                en_number(n % 100, out);
            }
        }
    }
}

/// Splits a template into its placeholders and words. Words are separated
/// by spaces; `known` says which word sequences have a clip, and the
/// longest known sequence is taken ("please go to window" before "please").
///
/// # Errors
/// A word with no clip.
pub fn template_clips(lang: Lang, template: &str, known: &dyn Fn(&str) -> bool) -> Result<Vec<TemplatePart>, String> {
    let tokens: Vec<&str> = template.split_whitespace().collect();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            "{chime}" => parts.push(TemplatePart::Clip(Clip::Chime)),
            "{number}" => parts.push(TemplatePart::Number),
            "{window}" => parts.push(TemplatePart::Window),
            _ => {
                let longest = (i + 1..=tokens.len())
                    .rev()
                    .find(|&j| !tokens[i..j].iter().any(|t| t.starts_with('{')) && known(&tokens[i..j].join(" ")));
                let Some(j) = longest else {
                    return Err(format!(
                        "the {} template's word {:?} has no clip (sounds/{}/words.toml)",
                        lang.code(),
                        tokens[i],
                        lang.code()
                    ));
                };
                parts.push(TemplatePart::Clip(Clip::Word(lang, tokens[i..j].join(" "))));
                i = j;
                continue;
            }
        }
        i += 1;
    }
    Ok(parts)
}

/// A template, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    Clip(Clip),
    Number,
    Window,
}

/// The whole announcement of `ticket` to `window`: each language's template
/// in turn, the whole said `voice.repeat` times.
///
/// # Errors
/// A template word with no clip.
pub fn script(
    voice: &Voice,
    ticket: TicketNumber,
    window: WindowNo,
    known: &dyn Fn(Lang, &str) -> bool,
) -> Result<Vec<Piece>, String> {
    let ticket = ticket.to_string();
    let mut once: Vec<Clip> = Vec::new();
    for (lang, template) in &voice.languages {
        for part in template_clips(*lang, template, &|w| known(*lang, w))? {
            match part {
                TemplatePart::Clip(c) => once.push(c),
                TemplatePart::Number => ticket_clips(*lang, &ticket, &mut once),
                TemplatePart::Window => number_clips(*lang, window, voice.window_two_liang, &mut once),
            }
        }
    }
    let mut pieces = Vec::new();
    for r in 0..voice.repeat {
        if r > 0 {
            pieces.push(Piece::Pause);
        }
        for (i, c) in once.iter().enumerate() {
            if i > 0 {
                pieces.push(Piece::Gap);
            }
            pieces.push(Piece::Clip(c.clone()));
        }
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zh(n: u16, liang: bool) -> Vec<Clip> {
        let mut v = Vec::new();
        number_clips(Lang::Zh, n, liang, &mut v);
        v
    }

    fn en(n: u16) -> Vec<Clip> {
        let mut v = Vec::new();
        number_clips(Lang::En, n, false, &mut v);
        v
    }

    #[test]
    fn window_numbers_are_read_as_numbers_in_mandarin() {
        use Clip::{Hundred, Liang, Ten};
        let d = |n| Clip::Digit(Lang::Zh, n);
        assert_eq!(zh(5, false), [d(5)]);
        assert_eq!(zh(2, false), [d(2)], "二号窗口");
        assert_eq!(zh(2, true), [Liang], "两号窗口");
        assert_eq!(zh(10, false), [Ten]);
        assert_eq!(zh(12, true), [Ten, d(2)], "十二, never 十两");
        assert_eq!(zh(20, false), [d(2), Ten]);
        assert_eq!(zh(23, false), [d(2), Ten, d(3)]);
        assert_eq!(zh(100, false), [d(1), Hundred(Lang::Zh)]);
        assert_eq!(zh(105, false), [d(1), Hundred(Lang::Zh), d(0), d(5)], "一百零五");
        assert_eq!(zh(112, false), [d(1), Hundred(Lang::Zh), d(1), Ten, d(2)], "一百一十二");
        assert_eq!(zh(230, false), [d(2), Hundred(Lang::Zh), d(3), Ten]);
    }

    #[test]
    fn window_numbers_are_read_as_numbers_in_english() {
        let d = |n| Clip::Digit(Lang::En, n);
        assert_eq!(en(7), [d(7)]);
        assert_eq!(en(12), [Clip::EnNumber(12)]);
        assert_eq!(en(40), [Clip::EnNumber(40)]);
        assert_eq!(en(45), [Clip::EnNumber(40), d(5)]);
        assert_eq!(en(105), [d(1), Clip::Hundred(Lang::En), d(5)]);
        assert_eq!(en(999).len(), 4);
    }

    #[test]
    fn a_call_is_scripted_from_the_templates_and_repeated() {
        let voice = Voice {
            languages: vec![
                (Lang::Zh, crate::config::ZH_TEMPLATE.into()),
                (Lang::En, crate::config::EN_TEMPLATE.into()),
            ],
            repeat: 2,
            ..Voice::default()
        };
        let words = [
            "请",
            "号",
            "到",
            "号窗口办理",
            "ticket",
            "please",
            "please go to window",
            "window",
        ];
        let known = |_: Lang, w: &str| words.contains(&w);
        let s = script(&voice, "A023".parse().unwrap(), 12, &known).unwrap();
        let clips: Vec<&Clip> = s
            .iter()
            .filter_map(|p| match p {
                Piece::Clip(c) => Some(c),
                _ => None,
            })
            .collect();
        let zh = |n| Clip::Digit(Lang::Zh, n);
        let word = |l, w: &str| Clip::Word(l, w.to_owned());
        let once = vec![
            Clip::Chime,
            word(Lang::Zh, "请"),
            Clip::Letter('A'),
            zh(0),
            zh(2),
            zh(3),
            word(Lang::Zh, "号"),
            word(Lang::Zh, "到"),
            Clip::Ten,
            zh(2),
            word(Lang::Zh, "号窗口办理"),
            word(Lang::En, "ticket"),
            Clip::Letter('A'),
            Clip::Digit(Lang::En, 0),
            Clip::Digit(Lang::En, 2),
            Clip::Digit(Lang::En, 3),
            word(Lang::En, "please go to window"),
            Clip::EnNumber(12),
        ];
        let twice: Vec<&Clip> = once.iter().chain(once.iter()).collect();
        assert_eq!(clips, twice);
        assert_eq!(s.iter().filter(|p| **p == Piece::Pause).count(), 1);
        assert_eq!(s.iter().filter(|p| **p == Piece::Gap).count(), 2 * (once.len() - 1));
    }

    #[test]
    fn a_word_without_a_clip_is_named() {
        let voice = Voice {
            languages: vec![(Lang::Zh, "请 {number} 号 去 {window} 号窗口".into())],
            ..Voice::default()
        };
        let known = |_: Lang, w: &str| ["请", "号", "号窗口"].contains(&w);
        let err = script(&voice, "A001".parse().unwrap(), 1, &known).unwrap_err();
        assert!(err.contains("\"去\""), "{err}");
    }
}
