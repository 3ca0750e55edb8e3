//! Which clips say a call, in which order. Pure: no audio, no files.
//!
//! A clip set may hold more than the minimum: whole numbers as one clip
//! (`zh/n-21.wav`, "twenty-one"), a digit as said first or last in a ticket
//! number, a letter as each language says it. The script asks `known` and
//! takes the most specific clip there is, so a small recorded pack and the
//! shipped one both work.

use crate::config::{Lang, Voice};
use crate::engine::{TicketNumber, WindowNo};

/// Where a digit stands in a ticket number: the voice falls on the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pos {
    First,
    Middle,
    Last,
}

/// One recorded clip.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Clip {
    Chime,
    /// A ticket prefix letter, as this language says it.
    Letter(Lang, char),
    /// A digit of a ticket number, read one by one.
    TicketDigit(Lang, u8, Pos),
    /// A digit inside a number (五, in 五十).
    Digit(Lang, u8),
    /// 十 (Mandarin).
    Ten,
    /// 百 (Mandarin) or "hundred".
    Hundred(Lang),
    /// 两: 2 said as a quantity.
    Liang,
    /// A whole number said as one word (二十一, "twenty-one").
    Number(Lang, u16),
    /// A template word from the language's `words.toml`.
    Word(Lang, String),
}

/// A clip, or silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Clip(Clip),
    /// The voice's gap between clips.
    Gap,
    /// Between one language's sentence and the next.
    LangPause,
    /// The longer pause between repeats.
    Pause,
}

/// Whether the clip set has a clip.
pub type Known<'a> = &'a dyn Fn(&Clip) -> bool;

/// A ticket number: its prefix as the hall says it (by default each letter
/// by name), then its digits one by one (A023 → A 零 二 三).
fn ticket_clips(
    voice: &Voice,
    lang: Lang,
    ticket: TicketNumber,
    known: Known,
    out: &mut Vec<Clip>,
) -> Result<(), String> {
    let prefix = ticket.prefix();
    match voice.prefix_words(lang, prefix) {
        Some(words) => {
            for part in template_clips(lang, words, known)? {
                if let TemplatePart::Clip(c) = part {
                    out.push(c);
                }
            }
        }
        None if voice.letters_spoken => out.extend(prefix.chars().map(|c| Clip::Letter(lang, c))),
        None => {}
    }
    let digits = ticket.digits();
    let last = digits.len().saturating_sub(1);
    for (i, ch) in digits.bytes().enumerate() {
        let pos = match i {
            _ if i == last => Pos::Last,
            0 => Pos::First,
            _ => Pos::Middle,
        };
        out.push(Clip::TicketDigit(lang, ch - b'0', pos));
    }
    Ok(())
}

/// A window number read as a number (十二, "twelve"), 1 to 999: one clip
/// where the set has it, else composed.
pub fn number_clips(lang: Lang, n: u16, liang: bool, known: Known, out: &mut Vec<Clip>) {
    let n = n.min(999);
    if lang == Lang::Zh && n == 2 && liang {
        out.push(Clip::Liang);
    } else if known(&Clip::Number(lang, n)) {
        out.push(Clip::Number(lang, n));
    } else {
        match lang {
            Lang::Zh => zh_number(n, known, out),
            Lang::En => en_number(n, known, out),
        }
    }
}

fn zh_number(n: u16, known: Known, out: &mut Vec<Clip>) {
    let digit = |d: u16| Clip::Digit(Lang::Zh, d as u8);
    match n {
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
                    out.push(Clip::Ten);
                    if rest % 10 != 0 {
                        out.push(digit(rest % 10));
                    }
                }
                _ if known(&Clip::Number(Lang::Zh, rest)) => out.push(Clip::Number(Lang::Zh, rest)),
                _ => zh_number(rest, known, out),
            }
        }
    }
}

fn en_number(n: u16, known: Known, out: &mut Vec<Clip>) {
    match n {
        0..=9 => out.push(Clip::Digit(Lang::En, n as u8)),
        _ if known(&Clip::Number(Lang::En, n)) => out.push(Clip::Number(Lang::En, n)),
        10..=19 => out.push(Clip::Number(Lang::En, n)),
        20..=99 => {
            out.push(Clip::Number(Lang::En, n / 10 * 10));
            if n % 10 != 0 {
                out.push(Clip::Digit(Lang::En, (n % 10) as u8));
            }
        }
        _ => {
            out.push(Clip::Digit(Lang::En, (n / 100) as u8));
            out.push(Clip::Hundred(Lang::En));
            if n % 100 != 0 {
                en_number(n % 100, known, out);
            }
        }
    }
}

/// Splits a template into its placeholders and words. Words are separated
/// by spaces; `known` says which word sequences have a clip, and the
/// longest known sequence is taken ("please go to window" before "please").
/// A lone capital letter is that letter's clip (`综合 A`).
///
/// # Errors
/// A word with no clip.
pub fn template_clips(lang: Lang, template: &str, known: Known) -> Result<Vec<TemplatePart>, String> {
    let tokens: Vec<&str> = template.split_whitespace().collect();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            "{chime}" => parts.push(TemplatePart::Clip(Clip::Chime)),
            "{number}" => parts.push(TemplatePart::Number),
            "{window}" => parts.push(TemplatePart::Window),
            t if t.len() == 1 && t.as_bytes()[0].is_ascii_uppercase() => {
                parts.push(TemplatePart::Clip(Clip::Letter(lang, char::from(t.as_bytes()[0]))));
            }
            _ => {
                let longest = (i + 1..=tokens.len()).rev().find(|&j| {
                    !tokens[i..j].iter().any(|t| t.starts_with('{')) && known(&Clip::Word(lang, tokens[i..j].join(" ")))
                });
                let Some(j) = longest else {
                    return Err(format!(
                        "the {} word {:?} has no clip (sounds/{}/words.toml)",
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
pub fn script(voice: &Voice, ticket: TicketNumber, window: WindowNo, known: Known) -> Result<Vec<Piece>, String> {
    let mut once: Vec<Piece> = Vec::new();
    for (li, (lang, template)) in voice.languages.iter().enumerate() {
        if li > 0 {
            once.push(Piece::LangPause);
        }
        let mut clips = Vec::new();
        for part in template_clips(*lang, template, known)? {
            match part {
                TemplatePart::Clip(c) => clips.push(c),
                TemplatePart::Number => ticket_clips(voice, *lang, ticket, known, &mut clips)?,
                TemplatePart::Window => number_clips(*lang, window, voice.window_two_liang, known, &mut clips),
            }
        }
        for (i, c) in clips.into_iter().enumerate() {
            if i > 0 {
                once.push(Piece::Gap);
            }
            once.push(Piece::Clip(c));
        }
    }
    let mut pieces = Vec::new();
    for r in 0..voice.repeat {
        if r > 0 {
            pieces.push(Piece::Pause);
        }
        pieces.extend(once.iter().cloned());
    }
    Ok(pieces)
}

/// The announcement as text, one sentence per language, for a device that
/// speaks it with its own voice (the hall display's Web Speech API). Said
/// once: the caller repeats it `voice.repeat` times.
///
/// # Errors
/// A template word with no clip (the same check as for the clips).
pub fn spoken(
    voice: &Voice,
    ticket: TicketNumber,
    window: WindowNo,
    known: Known,
) -> Result<Vec<(Lang, String)>, String> {
    let once = Voice {
        repeat: 1,
        ..voice.clone()
    };
    let mut out: Vec<(Lang, String)> = Vec::new();
    let mut langs = voice.languages.iter().map(|(l, _)| *l);
    let mut current = (langs.next().unwrap_or(Lang::Zh), String::new());
    for p in script(&once, ticket, window, known)? {
        match p {
            Piece::LangPause => {
                let next = langs.next().unwrap_or(current.0);
                out.push(std::mem::replace(&mut current, (next, String::new())));
            }
            Piece::Clip(c) => {
                let Some(t) = super::catalogue::text_of(&c) else {
                    continue;
                };
                let letter = matches!(c, Clip::Letter(..));
                let text = &mut current.1;
                // Mandarin runs on; a letter, and English words, stand apart.
                if !text.is_empty()
                    && (current.0 == Lang::En || letter || text.ends_with(|ch: char| ch.is_ascii_uppercase()))
                {
                    text.push(' ');
                }
                text.push_str(&t);
            }
            Piece::Gap | Piece::Pause => {}
        }
    }
    out.push(current);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The minimal clip set: digits, 十 百 两, 10–19 and the tens in
    /// English, the template words below.
    fn minimal(c: &Clip) -> bool {
        match c {
            Clip::Number(Lang::En, n) => (10..20).contains(n) || (*n % 10 == 0 && *n < 100),
            Clip::Number(..) => false,
            Clip::Word(_, w) => [
                "请",
                "号",
                "到",
                "号窗口办理",
                "综合",
                "ticket",
                "please",
                "please go to window",
                "window",
            ]
            .contains(&w.as_str()),
            _ => true,
        }
    }

    /// A full clip set: every number from 1 to 99 as one clip.
    fn full(c: &Clip) -> bool {
        match c {
            Clip::Number(_, n) => (1..100).contains(n),
            _ => minimal(c),
        }
    }

    fn num(lang: Lang, n: u16, liang: bool, known: Known) -> Vec<Clip> {
        let mut v = Vec::new();
        number_clips(lang, n, liang, known, &mut v);
        v
    }

    #[test]
    fn window_numbers_are_read_as_numbers_in_mandarin() {
        use Clip::{Hundred, Liang, Ten};
        let zh = |n, liang| num(Lang::Zh, n, liang, &minimal);
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
    fn whole_number_clips_are_taken_where_the_set_has_them() {
        let n = |l, n| Clip::Number(l, n);
        assert_eq!(num(Lang::Zh, 21, false, &full), [n(Lang::Zh, 21)]);
        assert_eq!(num(Lang::Zh, 2, true, &full), [Clip::Liang], "两 is still 两");
        assert_eq!(
            num(Lang::En, 29, false, &full),
            [n(Lang::En, 29)],
            "twenty-nine as one word"
        );
        assert_eq!(
            num(Lang::Zh, 121, false, &full),
            [Clip::Digit(Lang::Zh, 1), Clip::Hundred(Lang::Zh), n(Lang::Zh, 21)],
            "一百二十一"
        );
        assert_eq!(
            num(Lang::Zh, 112, false, &full),
            [
                Clip::Digit(Lang::Zh, 1),
                Clip::Hundred(Lang::Zh),
                Clip::Digit(Lang::Zh, 1),
                Clip::Ten,
                Clip::Digit(Lang::Zh, 2)
            ],
            "一百一十二, not 一百十二"
        );
        assert_eq!(
            num(Lang::En, 121, false, &full),
            [Clip::Digit(Lang::En, 1), Clip::Hundred(Lang::En), n(Lang::En, 21)]
        );
    }

    #[test]
    fn window_numbers_are_read_as_numbers_in_english() {
        let en = |n| num(Lang::En, n, false, &minimal);
        let d = |n| Clip::Digit(Lang::En, n);
        assert_eq!(en(7), [d(7)]);
        assert_eq!(en(12), [Clip::Number(Lang::En, 12)]);
        assert_eq!(en(40), [Clip::Number(Lang::En, 40)]);
        assert_eq!(en(45), [Clip::Number(Lang::En, 40), d(5)]);
        assert_eq!(en(105), [d(1), Clip::Hundred(Lang::En), d(5)]);
        assert_eq!(en(999).len(), 4);
    }

    fn clips_of(pieces: &[Piece]) -> Vec<Clip> {
        pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Clip(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
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
        let s = script(&voice, "A023".parse().unwrap(), 12, &minimal).unwrap();
        let td = |l, n, p| Clip::TicketDigit(l, n, p);
        let word = |l, w: &str| Clip::Word(l, w.to_owned());
        let once = vec![
            Clip::Chime,
            word(Lang::Zh, "请"),
            Clip::Letter(Lang::Zh, 'A'),
            td(Lang::Zh, 0, Pos::First),
            td(Lang::Zh, 2, Pos::Middle),
            td(Lang::Zh, 3, Pos::Last),
            word(Lang::Zh, "号"),
            word(Lang::Zh, "到"),
            Clip::Ten,
            Clip::Digit(Lang::Zh, 2),
            word(Lang::Zh, "号窗口办理"),
            word(Lang::En, "ticket"),
            Clip::Letter(Lang::En, 'A'),
            td(Lang::En, 0, Pos::First),
            td(Lang::En, 2, Pos::Middle),
            td(Lang::En, 3, Pos::Last),
            word(Lang::En, "please go to window"),
            Clip::Number(Lang::En, 12),
        ];
        let twice: Vec<Clip> = once.iter().chain(once.iter()).cloned().collect();
        assert_eq!(clips_of(&s), twice);
        assert_eq!(s.iter().filter(|p| **p == Piece::Pause).count(), 1);
        assert_eq!(
            s.iter().filter(|p| **p == Piece::LangPause).count(),
            2,
            "between zh and en, each time"
        );
        assert_eq!(s.iter().filter(|p| **p == Piece::Gap).count(), 2 * (once.len() - 2));
    }

    #[test]
    fn a_hall_says_its_prefixes_its_own_way_or_not_at_all() {
        let mut voice = Voice {
            languages: vec![(Lang::Zh, "请 {number} 号 到 {window} 号窗口办理".into())],
            repeat: 1,
            ..Voice::default()
        };
        let t: TicketNumber = "AB7".parse().unwrap();
        let ticket = |voice: &Voice| clips_of(&script(voice, t, 5, &minimal).unwrap())[1..3].to_vec();
        assert_eq!(
            ticket(&voice),
            [Clip::Letter(Lang::Zh, 'A'), Clip::Letter(Lang::Zh, 'B')]
        );
        voice.prefix_say = vec![(Lang::Zh, "AB".into(), "综合 B".into())];
        assert_eq!(
            ticket(&voice),
            [Clip::Word(Lang::Zh, "综合".into()), Clip::Letter(Lang::Zh, 'B')]
        );
        voice.prefix_say.clear();
        voice.letters_spoken = false;
        assert_eq!(
            ticket(&voice)[0],
            Clip::TicketDigit(Lang::Zh, 7, Pos::Last),
            "digits only"
        );
        voice.prefix_say = vec![(Lang::Zh, "AB".into(), "综合 去".into())];
        let err = script(&voice, t, 5, &minimal).unwrap_err();
        assert!(err.contains("\"去\""), "{err}");
    }

    #[test]
    fn the_announcement_reads_as_text_for_a_device_voice() {
        let mut voice = Voice {
            languages: vec![
                (Lang::Zh, crate::config::ZH_TEMPLATE.into()),
                (Lang::En, crate::config::EN_TEMPLATE.into()),
            ],
            ..Voice::default()
        };
        let t = "A023".parse().unwrap();
        assert_eq!(
            spoken(&voice, t, 21, &full).unwrap(),
            [
                (Lang::Zh, "请 A 零二三号到二十一号窗口办理".to_owned()),
                (
                    Lang::En,
                    "ticket A zero two three please go to window twenty-one".to_owned()
                )
            ]
        );
        voice.window_two_liang = true;
        voice.letters_spoken = false;
        assert_eq!(spoken(&voice, t, 2, &minimal).unwrap()[0].1, "请零二三号到两号窗口办理");
    }

    #[test]
    fn a_word_without_a_clip_is_named() {
        let voice = Voice {
            languages: vec![(Lang::Zh, "请 {number} 号 去 {window} 号窗口".into())],
            ..Voice::default()
        };
        let err = script(&voice, "A001".parse().unwrap(), 1, &minimal).unwrap_err();
        assert!(err.contains("\"去\""), "{err}");
    }
}
