//! Free text people type (a rating's comment, a follow-up's note, a
//! device's name): shown on pages and in reports, so it may not carry
//! characters that hide or reorder what is shown.

/// Whether `c` may appear in free text: a line break yes; other control
/// characters (NUL, escape…), bidirectional overrides and isolates, and
/// zero-width characters no.
pub fn allowed(c: char) -> bool {
    if c == '\n' {
        return true;
    }
    !(c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
            | '\u{202A}'..='\u{202E}' // embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // isolates
            | '\u{061C}'              // Arabic letter mark
            | '\u{FEFF}'              // zero-width no-break space
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
        ))
}

/// The first character of `s` that free text may not hold, if any.
pub fn first_forbidden(s: &str) -> Option<char> {
    s.chars().find(|&c| !allowed(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_hides_or_reorders_text_is_refused_and_chinese_and_line_breaks_are_not() {
        assert_eq!(first_forbidden("服务很好，谢谢！\n下次再来"), None);
        for bad in [
            "a\0b",
            "abc\u{202E}cba",
            "w\u{200B}9",
            "x\u{2066}y",
            "\u{FEFF}",
            "\u{1b}[31m",
            "a\rb",
        ] {
            assert!(first_forbidden(bad).is_some(), "{bad:?}");
        }
    }
}
