//! Every clip a voice pack holds: its file, what it says, and the sentence
//! to say it in, so a voice actor (or a speech service) makes each one as it
//! will be heard. `sounds/README.md` prints this list; the loader, the pack
//! tools and the clip maker all read it from here.

use super::script::{Clip, Pos};
use crate::config::Lang;

/// One clip of a pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub clip: Clip,
    /// Under the pack's directory.
    pub file: String,
    /// What the clip says.
    pub text: String,
    /// The sentence it is said in, `text` in brackets: say the whole,
    /// keep the bracketed part.
    pub context: String,
    /// A pack must have it (a letter: its own file or the older
    /// `letters/X.wav`); the others improve on a fallback.
    pub required: bool,
}

const ZH_DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
const EN_DIGITS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
const EN_TEENS: [&str; 10] = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const EN_TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// Mandarin for 1 to 99 as written out (二十一).
pub fn zh_words(n: u16) -> String {
    let d = |k: u16| ZH_DIGITS[k as usize];
    match n {
        0..=9 => d(n).to_owned(),
        10 => "十".into(),
        11..=19 => format!("十{}", d(n % 10)),
        _ if n % 10 == 0 => format!("{}十", d(n / 10)),
        _ => format!("{}十{}", d(n / 10), d(n % 10)),
    }
}

/// English for 0 to 99 ("twenty-one").
pub fn en_words(n: u16) -> String {
    match n {
        0..=9 => EN_DIGITS[n as usize].into(),
        10..=19 => EN_TEENS[(n - 10) as usize].into(),
        _ if n % 10 == 0 => EN_TENS[(n / 10) as usize].into(),
        _ => format!("{}-{}", EN_TENS[(n / 10) as usize], EN_DIGITS[(n % 10) as usize]),
    }
}

fn pos_name(p: Pos) -> &'static str {
    match p {
        Pos::First => "first",
        Pos::Middle => "middle",
        Pos::Last => "last",
    }
}

/// The file a clip is kept in.
pub fn file_of(clip: &Clip) -> Option<String> {
    Some(match clip {
        Clip::Chime => "chime.wav".into(),
        Clip::Letter(l, c) => format!("{}/letter-{c}.wav", l.code()),
        Clip::TicketDigit(l, d, p) => format!("{}/digit-{d}-{}.wav", l.code(), pos_name(*p)),
        Clip::Digit(l, d) => format!("{}/digit-{d}.wav", l.code()),
        Clip::Ten => "zh/shi.wav".into(),
        Clip::Hundred(Lang::Zh) => "zh/bai.wav".into(),
        Clip::Hundred(Lang::En) => "en/hundred.wav".into(),
        Clip::Liang => "zh/liang.wav".into(),
        Clip::Number(l, n) => format!("{}/n-{n}.wav", l.code()),
        Clip::Word(..) => return None,
    })
}

/// What a clip says, as text a speech engine reads (`None`: the chime).
pub fn text_of(clip: &Clip) -> Option<String> {
    Some(match clip {
        Clip::Chime => return None,
        Clip::Letter(_, c) => c.to_string(),
        Clip::TicketDigit(Lang::Zh, d, _) | Clip::Digit(Lang::Zh, d) => ZH_DIGITS[usize::from(*d % 10)].into(),
        Clip::TicketDigit(Lang::En, d, _) | Clip::Digit(Lang::En, d) => EN_DIGITS[usize::from(*d % 10)].into(),
        Clip::Ten => "十".into(),
        Clip::Hundred(Lang::Zh) => "百".into(),
        Clip::Hundred(Lang::En) => "hundred".into(),
        Clip::Liang => "两".into(),
        Clip::Number(Lang::Zh, n) if *n < 100 => zh_words(*n),
        Clip::Number(Lang::En, n) if *n < 100 => en_words(*n),
        Clip::Number(_, n) => n.to_string(),
        Clip::Word(_, w) => w.clone(),
    })
}

/// The older file a clip falls back to when its own is missing: a ticket
/// digit to the plain digit, a letter to `letters/X.wav` (one recording for
/// both languages).
pub fn fallback_file(clip: &Clip) -> Option<String> {
    match clip {
        Clip::TicketDigit(l, d, _) => file_of(&Clip::Digit(*l, *d)),
        Clip::Letter(_, c) => Some(format!("letters/{c}.wav")),
        _ => None,
    }
}

/// Every clip of a full pack, besides the words of `words.toml`.
pub fn entries() -> Vec<Entry> {
    let mut out = Vec::new();
    let mut add = |clip: Clip, text: String, context: String, required: bool| {
        let file = file_of(&clip).unwrap_or_default();
        out.push(Entry {
            clip,
            file,
            text,
            context,
            required,
        });
    };
    add(Clip::Chime, "叮咚".into(), "[two soft tones]".into(), true);
    for c in 'A'..='Z' {
        add(
            Clip::Letter(Lang::Zh, c),
            c.to_string(),
            format!("请 [{c}]，零零一号，到五号窗口办理"),
            true,
        );
        add(
            Clip::Letter(Lang::En, c),
            c.to_string(),
            format!("Ticket [{c}], zero zero one, please go to window five."),
            true,
        );
    }
    for d in 0..10u8 {
        let (z, e) = (ZH_DIGITS[d as usize], EN_DIGITS[d as usize]);
        add(Clip::Digit(Lang::Zh, d), z.into(), format!("[{z}]"), true);
        add(Clip::Digit(Lang::En, d), e.into(), format!("[{e}]"), true);
        for (p, zh_ctx, en_ctx) in [
            (
                Pos::First,
                format!("请 A，[{z}]零零号"),
                format!("Ticket A, [{e}] zero zero, please"),
            ),
            (
                Pos::Middle,
                format!("请 A，零[{z}]零号"),
                format!("Ticket A, zero [{e}] zero, please"),
            ),
            (
                Pos::Last,
                format!("请 A，零零[{z}]号"),
                format!("Ticket A, zero zero [{e}], please"),
            ),
        ] {
            add(Clip::TicketDigit(Lang::Zh, d, p), z.into(), zh_ctx, false);
            add(Clip::TicketDigit(Lang::En, d, p), e.into(), en_ctx, false);
        }
    }
    add(Clip::Ten, "十".into(), "[十]".into(), true);
    add(Clip::Hundred(Lang::Zh), "百".into(), "一[百]".into(), true);
    add(Clip::Liang, "两".into(), "到[两]号窗口办理".into(), true);
    add(Clip::Hundred(Lang::En), "hundred".into(), "one [hundred]".into(), true);
    for n in 1..100u16 {
        let z = zh_words(n);
        add(
            Clip::Number(Lang::Zh, n),
            z.clone(),
            format!("到[{z}]号窗口办理"),
            false,
        );
        let e = en_words(n);
        let required = (10..20).contains(&n) || (n % 10 == 0 && n >= 20);
        add(
            Clip::Number(Lang::En, n),
            e.clone(),
            format!("please go to window [{e}]."),
            required,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_they_are_said() {
        assert_eq!(zh_words(1), "一");
        assert_eq!(zh_words(10), "十");
        assert_eq!(zh_words(12), "十二");
        assert_eq!(zh_words(20), "二十");
        assert_eq!(zh_words(21), "二十一");
        assert_eq!(en_words(13), "thirteen");
        assert_eq!(en_words(21), "twenty-one");
        assert_eq!(en_words(70), "seventy");
    }

    #[test]
    fn every_clip_has_its_own_file() {
        let e = entries();
        let mut files: Vec<&str> = e.iter().map(|e| e.file.as_str()).collect();
        files.sort_unstable();
        let n = files.len();
        files.dedup();
        assert_eq!(files.len(), n, "no two clips share a file");
        for e in &e {
            assert!(!e.file.is_empty() && !e.text.is_empty(), "{e:?}");
            assert!(
                e.clip == Clip::Chime || e.context.contains(&format!("[{}]", e.text)),
                "{e:?}"
            );
        }
    }
}
