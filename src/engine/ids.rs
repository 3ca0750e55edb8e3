//! Small value types shared by the engine and its callers: identifiers,
//! ticket numbers and instants. All are `Copy` so that commands and events
//! cost no allocation to build or clone.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the Unix epoch (UTC). The engine never reads a clock:
/// every operation is handed its `now` as one of these.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Millis {
    pub const SECOND: i64 = 1_000;
    pub const MINUTE: i64 = 60_000;

    /// Milliseconds from `earlier` to `self`, never negative (clocks may step back).
    pub fn since(self, earlier: Millis) -> i64 {
        (self.0 - earlier.0).max(0)
    }

    pub fn plus_ms(self, ms: i64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }
}

/// A short ASCII identifier (`[a-z0-9_-]`, 1 to 23 bytes) held inline.
///
/// Zone, service, hall and category ids appear in every event; keeping them
/// inline makes events `Copy`-cheap instead of one heap string per field.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code {
    len: u8,
    bytes: [u8; Code::MAX],
}

/// Why a string is not a valid [`Code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("an id must not be empty")]
    Empty,
    #[error("an id is at most 23 characters, {0:?} has more")]
    TooLong(String),
    #[error("an id uses only a-z, 0-9, '_' and '-', {0:?} does not")]
    BadChar(String),
}

impl Code {
    pub const MAX: usize = 23;

    /// # Errors
    /// When `s` is empty, too long or holds a character outside `[a-z0-9_-]`.
    pub fn new(s: &str) -> Result<Code, CodeError> {
        if s.is_empty() {
            return Err(CodeError::Empty);
        }
        if s.len() > Self::MAX {
            return Err(CodeError::TooLong(s.to_owned()));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(CodeError::BadChar(s.to_owned()));
        }
        let mut bytes = [0u8; Self::MAX];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Ok(Code {
            len: s.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored (checked in `new`).
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Code {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Code::new(s)
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, Code::new)
    }
}

/// Reads a string and parses it where it lies. (Through serde's
/// `Cow<str>` every id read was first copied into a new `String`: several
/// allocations per event read back from the journal.)
fn parse_str<'de, D, T, E>(d: D, parse: fn(&str) -> Result<T, E>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: fmt::Display,
{
    struct Parse<T, E>(fn(&str) -> Result<T, E>);
    impl<T, E: fmt::Display> serde::de::Visitor<'_> for Parse<T, E> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<Er: serde::de::Error>(self, s: &str) -> Result<T, Er> {
            (self.0)(s).map_err(Er::custom)
        }
    }
    d.deserialize_str(Parse(parse))
}

pub type HallId = Code;
pub type ZoneId = Code;
pub type ServiceId = Code;
pub type CategoryId = Code;

/// A window's number as painted above the counter (1号窗口, 12号窗口).
pub type WindowNo = u16;

/// A ticket number such as `A023`: the zone's prefix (1 to 3 capital
/// letters) and a per-zone, per-business-day sequence.
///
/// The zero-padding width travels with the number so that `A023` prints the
/// same everywhere; equality and hashing look at prefix and sequence only.
#[derive(Clone, Copy)]
pub struct TicketNumber {
    prefix: [u8; 3],
    prefix_len: u8,
    width: u8,
    seq: u32,
}

/// Why a string is not a ticket number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a ticket number (1 to 3 capital letters, then digits, like A023)")]
pub struct TicketNumberError(pub String);

impl TicketNumber {
    /// `prefix` must be 1 to 3 ASCII capital letters (config validation
    /// guarantees it for zone prefixes).
    pub fn new(prefix: &str, seq: u32, width: u8) -> Result<TicketNumber, TicketNumberError> {
        let p = prefix.as_bytes();
        if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_uppercase) {
            return Err(TicketNumberError(format!("{prefix}{seq}")));
        }
        let mut bytes = [0u8; 3];
        bytes[..p.len()].copy_from_slice(p);
        Ok(TicketNumber {
            prefix: bytes,
            prefix_len: p.len() as u8,
            width,
            seq,
        })
    }

    pub fn prefix(&self) -> &str {
        std::str::from_utf8(&self.prefix[..self.prefix_len as usize]).unwrap_or_default()
    }

    pub fn seq(&self) -> u32 {
        self.seq
    }

    /// The digits as written, zero-padded (`023`), for announcements.
    pub fn digits(&self) -> String {
        format!("{:0w$}", self.seq, w = self.width as usize)
    }
}

impl PartialEq for TicketNumber {
    fn eq(&self, o: &Self) -> bool {
        self.seq == o.seq && self.prefix == o.prefix && self.prefix_len == o.prefix_len
    }
}
impl Eq for TicketNumber {}

impl std::hash::Hash for TicketNumber {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(
            (u64::from(self.seq) << 32)
                | (u64::from(self.prefix[0]) << 16)
                | (u64::from(self.prefix[1]) << 8)
                | u64::from(self.prefix[2]),
        );
    }
}

impl TicketNumber {
    /// Writes the number into `buf` without the formatting machinery (it
    /// is printed into every frame and answer); `None` if it does not fit.
    fn write_into<'b>(&self, buf: &'b mut [u8; 24]) -> Option<&'b str> {
        let mut digits = [b'0'; 10];
        let mut n = self.seq;
        let mut len = 0;
        loop {
            digits[9 - len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let p = self.prefix_len as usize;
        let width = (self.width as usize).max(len);
        if p + width > buf.len() {
            return None;
        }
        buf[..p].copy_from_slice(&self.prefix[..p]);
        buf[p..p + width - len].fill(b'0');
        buf[p + width - len..p + width].copy_from_slice(&digits[10 - len..]);
        std::str::from_utf8(&buf[..p + width]).ok()
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.write_into(&mut [0; 24]) {
            Some(s) => f.write_str(s),
            None => write!(f, "{}{:0w$}", self.prefix(), self.seq, w = self.width as usize),
        }
    }
}

impl fmt::Debug for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl FromStr for TicketNumber {
    type Err = TicketNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || TicketNumberError(s.to_owned());
        let split = s.find(|c: char| !c.is_ascii_uppercase()).ok_or_else(bad)?;
        let (prefix, digits) = s.split_at(split);
        if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let seq: u32 = digits.parse().map_err(|_| bad())?;
        TicketNumber::new(prefix, seq, digits.len() as u8).map_err(|_| bad())
    }
}

impl Serialize for TicketNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.write_into(&mut [0; 24]) {
            Some(text) => s.serialize_str(text),
            None => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for TicketNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, str::parse::<TicketNumber>)
    }
}

/// A keyed hash of a citizen's ID number, made by the shell. The engine only
/// compares these (one waiting ticket per person and service); it never sees
/// the ID number itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PersonKey(pub u128);

impl Serialize for PersonKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:032x}", self.0))
    }
}

impl<'de> Deserialize<'de> for PersonKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, |s| {
            u128::from_str_radix(s, 16)
                .map(PersonKey)
                .map_err(|_| "a person key is 32 hex digits")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_accepts_ids_and_refuses_the_rest() {
        assert_eq!(Code::new("police-hukou_2").unwrap().as_str(), "police-hukou_2");
        assert_eq!(Code::new(""), Err(CodeError::Empty));
        assert!(matches!(Code::new("Police"), Err(CodeError::BadChar(_))));
        assert!(matches!(Code::new("户籍"), Err(CodeError::BadChar(_))));
        assert!(matches!(Code::new(&"a".repeat(24)), Err(CodeError::TooLong(_))));
        assert!(Code::new(&"a".repeat(23)).is_ok());
    }

    #[test]
    fn code_serde_round_trip() {
        let c = Code::new("general").unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, "\"general\"");
        assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), c);
        assert!(serde_json::from_str::<Code>("\"Bad Id\"").is_err());
    }

    #[test]
    fn ticket_numbers_print_padded_and_parse_back() {
        let n = TicketNumber::new("A", 23, 3).unwrap();
        assert_eq!(n.to_string(), "A023");
        assert_eq!(n.digits(), "023");
        assert_eq!("A023".parse::<TicketNumber>().unwrap(), n);
        assert_eq!(TicketNumber::new("GA", 1234, 3).unwrap().to_string(), "GA1234");
        for bad in ["", "A", "023", "a023", "ABCD1", "A-1", "A 1", "A12345678901"] {
            assert!(bad.parse::<TicketNumber>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(serde_json::from_str::<TicketNumber>(&json).unwrap().to_string(), "A023");
    }

    #[test]
    fn ticket_numbers_print_as_the_format_machinery_would() {
        for prefix in ["A", "GA", "XYZ"] {
            for width in [0u8, 1, 3, 6, 12, 21, 40] {
                for seq in [0u32, 7, 23, 999, 1000, 123_456, u32::MAX] {
                    let n = TicketNumber::new(prefix, seq, width).unwrap();
                    let want = format!("{prefix}{seq:0w$}", w = width as usize);
                    assert_eq!(n.to_string(), want);
                    assert_eq!(serde_json::to_string(&n).unwrap(), format!("\"{want}\""));
                }
            }
        }
    }

    #[test]
    fn person_key_is_hex_on_the_wire() {
        let k = PersonKey(0xdead_beef);
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, "\"000000000000000000000000deadbeef\"");
        assert_eq!(serde_json::from_str::<PersonKey>(&json).unwrap(), k);
    }

    #[test]
    fn since_never_goes_negative() {
        assert_eq!(Millis(10).since(Millis(20)), 0);
        assert_eq!(Millis(20).since(Millis(10)), 10);
    }
}
