//! The ID numbers a hall accepts for its one-ticket-per-person rules and
//! phone quotas. Checked by their own rules, so "1" or a made-up number
//! is not a person: otherwise a quota per person means nothing.

use serde::Serialize;

/// A kind of identity document or number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// 居民身份证 (GB 11643: 18 characters with a check digit), and the
    /// residence permits of Hong Kong, Macao and Taiwan residents, which
    /// use the same form.
    Resident,
    /// A mainland mobile number (11 digits, 1[3-9]…), with or without +86.
    Phone,
    /// 港澳居民来往内地通行证: H or M and 8 or 10 digits.
    HkMacao,
    /// 台湾居民来往大陆通行证: 8 digits (or the older 10 with a letter).
    Taiwan,
    /// A passport: 1 or 2 letters and 7 or 8 digits (China's E/G and most
    /// others), or 9 letters and digits.
    Passport,
}

impl IdKind {
    pub const ALL: [IdKind; 5] = [
        IdKind::Resident,
        IdKind::Phone,
        IdKind::HkMacao,
        IdKind::Taiwan,
        IdKind::Passport,
    ];

    pub fn name(self) -> &'static str {
        match self {
            IdKind::Resident => "resident",
            IdKind::Phone => "phone",
            IdKind::HkMacao => "hk_macao",
            IdKind::Taiwan => "taiwan",
            IdKind::Passport => "passport",
        }
    }

    pub fn parse(s: &str) -> Option<IdKind> {
        IdKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// What halls accept unless configured: the ID card and a phone number.
pub const DEFAULT_KINDS: &[IdKind] = &[IdKind::Resident, IdKind::Phone];

/// The number as one canonical string (no spaces or dashes, capitals,
/// no +86), and the first accepted kind it is a valid number of.
pub fn recognise(raw: &str, accepted: &[IdKind]) -> Option<(String, IdKind)> {
    let mut s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    // Every kind is ASCII; the rules below slice by bytes.
    if !s.is_ascii() {
        return None;
    }
    if accepted.contains(&IdKind::Phone) {
        for prefix in ["+86", "0086"] {
            if let Some(rest) = s.strip_prefix(prefix)
                && phone(rest)
            {
                s = rest.to_owned();
            }
        }
    }
    let kind = accepted.iter().copied().find(|k| match k {
        IdKind::Resident => resident(&s),
        IdKind::Phone => phone(&s),
        IdKind::HkMacao => hk_macao(&s),
        IdKind::Taiwan => taiwan(&s),
        IdKind::Passport => passport(&s),
    })?;
    Some((s, kind))
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// GB 11643-1999: six digits of region, the birth date, three of order and
/// a check character from ISO 7064 MOD 11-2.
fn resident(s: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = s.as_bytes();
    if b.len() != 18 || !digits(&s[..17]) || !(b[17].is_ascii_digit() || b[17] == b'X') {
        return false;
    }
    let sum: u32 = b[..17].iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    if CHECK[(sum % 11) as usize] != b[17] {
        return false;
    }
    // A real birth date, from 1900.
    let (y, m, d) = (&s[6..10], &s[10..12], &s[12..14]);
    match (y.parse::<i16>(), m.parse::<i8>(), d.parse::<i8>()) {
        (Ok(y), Ok(m), Ok(d)) => y >= 1900 && jiff::civil::Date::new(y, m, d).is_ok(),
        _ => false,
    }
}

fn phone(s: &str) -> bool {
    s.len() == 11 && digits(s) && s.starts_with('1') && (b'3'..=b'9').contains(&s.as_bytes()[1])
}

fn hk_macao(s: &str) -> bool {
    let rest = s.strip_prefix('H').or_else(|| s.strip_prefix('M'));
    rest.is_some_and(|r| (r.len() == 8 || r.len() == 10) && digits(r))
}

fn taiwan(s: &str) -> bool {
    (s.len() == 8 && digits(s)) || (s.len() == 11 && digits(&s[..10]) && s.as_bytes()[10].is_ascii_uppercase())
}

fn passport(s: &str) -> bool {
    let letters = s.bytes().take_while(u8::is_ascii_uppercase).count();
    let rest = &s[letters..];
    ((1..=2).contains(&letters) && (7..=8).contains(&rest.len()) && digits(rest))
        || (s.len() == 9 && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) && letters >= 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_card_number_needs_its_check_digit_and_a_real_birth_date() {
        // The standard's own example, and the same with an X check.
        assert_eq!(
            recognise("11010519491231002X", DEFAULT_KINDS),
            Some(("11010519491231002X".into(), IdKind::Resident))
        );
        assert_eq!(
            recognise("110105 19491231 002x", DEFAULT_KINDS).map(|r| r.1),
            Some(IdKind::Resident),
            "spaces and a small x are fine"
        );
        assert_eq!(
            recognise("110105194912310021", DEFAULT_KINDS),
            None,
            "wrong check digit"
        );
        assert_eq!(recognise("110105194902300027", DEFAULT_KINDS), None, "30 February");
        for junk in ["1", "123456", "abcdefghijklmnopqr", "", "11010519491231002"] {
            assert_eq!(recognise(junk, DEFAULT_KINDS), None, "{junk:?}");
        }
    }

    #[test]
    fn letters_outside_ascii_are_no_number_of_any_kind() {
        // Byte 17 (or 10) inside a two-byte letter once panicked a slice.
        let all = [
            IdKind::Resident,
            IdKind::Phone,
            IdKind::HkMacao,
            IdKind::Taiwan,
            IdKind::Passport,
        ];
        for junk in [
            "1234567890123456é",
            "123456789é",
            "12345678901234567é",
            "１３８００１３８０００",
            "H1234567é",
        ] {
            assert_eq!(recognise(junk, &all), None, "{junk:?}");
        }
    }

    #[test]
    fn a_phone_number_is_a_mainland_mobile_with_or_without_the_country_code() {
        assert_eq!(
            recognise("138 0013 8000", DEFAULT_KINDS),
            Some(("13800138000".into(), IdKind::Phone))
        );
        assert_eq!(
            recognise("+86 138-0013-8000", DEFAULT_KINDS).map(|r| r.0),
            Some("13800138000".into())
        );
        assert_eq!(recognise("12800138000", DEFAULT_KINDS), None, "no 12x numbers");
        assert_eq!(recognise("1380013800", DEFAULT_KINDS), None, "ten digits");
        assert_eq!(recognise("13800138000", &[IdKind::Resident]), None, "not accepted here");
    }

    #[test]
    fn other_documents_only_where_the_hall_accepts_them() {
        let all = IdKind::ALL;
        assert_eq!(recognise("H12345678", &all).map(|r| r.1), Some(IdKind::HkMacao));
        assert_eq!(recognise("H12345678", DEFAULT_KINDS), None);
        assert_eq!(recognise("12345678", &all).map(|r| r.1), Some(IdKind::Taiwan));
        assert_eq!(recognise("E12345678", &all).map(|r| r.1), Some(IdKind::Passport));
        assert_eq!(recognise("EA1234567", &all).map(|r| r.1), Some(IdKind::Passport));
        assert_eq!(recognise("X1", &all), None);
    }
}
