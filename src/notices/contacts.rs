//! A citizen's contact details (phone number, WeChat openid), given with
//! their consent to be told of their turn. They never enter the hall's log:
//! the log carries a random reference, and the details are kept here,
//! sealed (ChaCha20-Poly1305) under a key held outside the store
//! (`--notice-key-file`), in the store's directory or Redis, by hall and
//! business day, and erased when the day is over.

use std::path::PathBuf;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::engine::{HallId, NoticeRef};
use crate::store::StoreError;
use crate::store::redis_store::RedisStore;

/// What a citizen gave.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Contact {
    /// A mainland mobile number, 11 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The citizen's openid in the hall's mini-program or official account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechat: Option<String>,
}

impl std::fmt::Debug for Contact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never in a log line, whatever prints it.
        write!(
            f,
            "Contact {{ phone: {}, wechat: {} }}",
            if self.phone.is_some() { "…" } else { "-" },
            if self.wechat.is_some() { "…" } else { "-" }
        )
    }
}

/// A mainland mobile number as written (spaces, dashes, +86 allowed), as
/// its 11 digits.
pub fn mobile(s: &str) -> Option<String> {
    let digits: String = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let d = digits
        .strip_prefix("+86")
        .or_else(|| digits.strip_prefix("0086"))
        .unwrap_or(&digits);
    let ok = d.len() == 11 && d.starts_with('1') && d.as_bytes()[1].is_ascii_digit() && d.as_bytes()[1] >= b'3';
    (ok && d.bytes().all(|b| b.is_ascii_digit())).then(|| d.to_owned())
}

/// The key contacts are sealed with.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// From a key file: 32 bytes, or 64 hex digits (`openssl rand -hex 32`).
    ///
    /// # Errors
    /// The file cannot be read or holds no such key.
    pub fn read(path: &std::path::Path) -> Result<Sealer, String> {
        let raw = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let text = String::from_utf8_lossy(&raw);
        let hex = text.trim();
        let key: Vec<u8> = if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
                .collect()
        } else if raw.len() == 32 {
            raw
        } else {
            return Err(format!(
                "{}: a notice key is 32 bytes or 64 hex digits (make one with `openssl rand -hex 32`)",
                path.display()
            ));
        };
        Ok(Sealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        })
    }

    #[cfg(test)]
    pub fn from_key(key: [u8; 32]) -> Sealer {
        Sealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    /// Bound to where it is kept: a sealed contact moved to another
    /// ticket, day or hall does not open.
    fn aad(hall: HallId, day: Date, r: NoticeRef) -> String {
        format!("hallcall contact|{hall}|{day}|{r}")
    }

    pub fn seal(&self, hall: HallId, day: Date, r: NoticeRef, c: &Contact) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("the system's random numbers");
        let plain = serde_json::to_vec(c).expect("a contact serialises");
        let aad = Sealer::aad(hall, day, r);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: aad.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 seals any length we give it");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        out
    }

    /// # Errors
    /// Sealed under another key, or for another place, or damaged.
    pub fn open(&self, hall: HallId, day: Date, r: NoticeRef, sealed: &[u8]) -> Result<Contact, String> {
        if sealed.len() < 12 {
            return Err("a sealed contact is too short".into());
        }
        let aad = Sealer::aad(hall, day, r);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(&sealed[..12]),
                Payload {
                    msg: &sealed[12..],
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| "a contact does not open with this notice key".to_owned())?;
        serde_json::from_slice(&plain).map_err(|e| format!("a contact does not read back: {e}"))
    }
}

/// Where sealed contacts are kept: beside the journal, or in Redis.
#[derive(Clone)]
pub enum Contacts {
    /// `DIR/contacts/HALL/DAY/REF`, each written and synced before the
    /// ticket that names it is issued.
    Dir(PathBuf),
    Redis(RedisStore),
}

/// Contacts of a day are kept this long past the day's end (a notice
/// still in its retries), then erased whatever happens.
const GRACE_SECS: i64 = 3600;

impl Contacts {
    fn day_dir(root: &std::path::Path, hall: HallId, day: Date) -> PathBuf {
        root.join("contacts").join(hall.as_str()).join(day.to_string())
    }

    /// Keeps a sealed contact, durably, before its ticket is issued.
    ///
    /// # Errors
    /// The store cannot take it: the ticket must not be issued with it.
    pub async fn put(
        &self,
        hall: HallId,
        day: Date,
        r: NoticeRef,
        sealed: Vec<u8>,
        day_ends: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        match self {
            Contacts::Dir(root) => {
                let dir = Contacts::day_dir(root, hall, day);
                crate::store::blocking(move || {
                    let fail = |e: std::io::Error| StoreError::Unavailable(format!("cannot keep a contact: {e}"));
                    std::fs::create_dir_all(&dir).map_err(fail)?;
                    let tmp = dir.join(format!("{r}.tmp"));
                    {
                        use std::io::Write as _;
                        let mut f = std::fs::File::create(&tmp).map_err(fail)?;
                        f.write_all(&sealed).map_err(fail)?;
                        f.sync_all().map_err(fail)?;
                    }
                    std::fs::rename(&tmp, dir.join(r.to_string())).map_err(fail)?;
                    std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(fail)?;
                    Ok(())
                })
                .await
            }
            Contacts::Redis(redis) => {
                let key = redis.key(hall, &format!("contacts:{day}"));
                let mut conn = redis.connection();
                redis::pipe()
                    .atomic()
                    .hset(&key, r.to_string(), sealed)
                    .ignore()
                    .cmd("EXPIREAT")
                    .arg(&key)
                    .arg(day_ends.as_second() + GRACE_SECS)
                    .ignore()
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(|e| StoreError::Unavailable(format!("cannot keep a contact in Redis: {e}")))
            }
        }
    }

    /// A sealed contact, if still kept.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn get(&self, hall: HallId, day: Date, r: NoticeRef) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Contacts::Dir(root) => {
                let path = Contacts::day_dir(root, hall, day).join(r.to_string());
                crate::store::blocking(move || match std::fs::read(&path) {
                    Ok(b) => Ok(Some(b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(StoreError::Unavailable(format!("cannot read a contact: {e}"))),
                })
                .await
            }
            Contacts::Redis(redis) => {
                let key = redis.key(hall, &format!("contacts:{day}"));
                let mut conn = redis.connection();
                redis::cmd("HGET")
                    .arg(&key)
                    .arg(r.to_string())
                    .query_async::<Option<Vec<u8>>>(&mut conn)
                    .await
                    .map_err(|e| StoreError::Unavailable(format!("cannot read a contact from Redis: {e}")))
            }
        }
    }

    /// Erases every contact of the hall's days before `today`; the days
    /// erased.
    ///
    /// # Errors
    /// The store cannot be changed (tried again at the next tick).
    pub async fn erase_before(&self, hall: HallId, today: Date) -> Result<Vec<Date>, StoreError> {
        match self {
            Contacts::Dir(root) => {
                let dir = root.join("contacts").join(hall.as_str());
                crate::store::blocking(move || {
                    let fail = |e: std::io::Error| StoreError::Unavailable(format!("cannot erase contacts: {e}"));
                    let entries = match std::fs::read_dir(&dir) {
                        Ok(e) => e,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                        Err(e) => return Err(fail(e)),
                    };
                    let mut erased = Vec::new();
                    for entry in entries {
                        let entry = entry.map_err(fail)?;
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if let Ok(day) = name.parse::<Date>()
                            && day < today
                        {
                            std::fs::remove_dir_all(entry.path()).map_err(fail)?;
                            erased.push(day);
                        }
                    }
                    if !erased.is_empty() {
                        std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(fail)?;
                    }
                    Ok(erased)
                })
                .await
            }
            Contacts::Redis(redis) => {
                // Each day's hash expires by itself; yesterday's and the
                // day before go at once, in case a clock ran late.
                let mut erased = Vec::new();
                let mut conn = redis.connection();
                for back in 1..=2 {
                    let Ok(day) = today.checked_sub(jiff::Span::new().days(back)) else {
                        continue;
                    };
                    let key = redis.key(hall, &format!("contacts:{day}"));
                    let n: i64 = redis::cmd("DEL")
                        .arg(&key)
                        .query_async(&mut conn)
                        .await
                        .map_err(|e| StoreError::Unavailable(format!("cannot erase contacts in Redis: {e}")))?;
                    if n > 0 {
                        erased.push(day);
                    }
                }
                Ok(erased)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> NoticeRef {
        "00112233445566778899aabbccddeeff".parse().unwrap()
    }

    #[test]
    fn mobile_numbers_are_read_as_people_write_them() {
        assert_eq!(mobile("138 0013 8000").as_deref(), Some("13800138000"));
        assert_eq!(mobile("+86 138-0013-8000").as_deref(), Some("13800138000"));
        for bad in [
            "12800138000",
            "1380013800",
            "138001380001",
            "abc",
            "",
            "+1 138 0013 8000",
        ] {
            assert_eq!(mobile(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_sealed_contact_opens_only_with_its_key_at_its_place() {
        let s = Sealer::from_key([7; 32]);
        let hall = HallId::new("h").unwrap();
        let day = jiff::civil::date(2026, 12, 6);
        let c = Contact {
            phone: Some("13800138000".into()),
            wechat: None,
        };
        let sealed = s.seal(hall, day, r(), &c);
        assert!(!String::from_utf8_lossy(&sealed).contains("13800138000"));
        assert_eq!(s.open(hall, day, r(), &sealed).unwrap(), c);
        assert!(Sealer::from_key([8; 32]).open(hall, day, r(), &sealed).is_err());
        assert!(s.open(hall, day.tomorrow().unwrap(), r(), &sealed).is_err());
        assert!(s.open(HallId::new("g").unwrap(), day, r(), &sealed).is_err());
        assert_eq!(format!("{c:?}"), "Contact { phone: …, wechat: - }");
    }

    #[tokio::test]
    async fn kept_until_the_day_is_over_in_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let contacts = Contacts::Dir(dir.path().to_path_buf());
        let hall = HallId::new("h").unwrap();
        let day = jiff::civil::date(2026, 12, 6);
        let ends = jiff::Timestamp::now();
        contacts.put(hall, day, r(), vec![1, 2, 3], ends).await.unwrap();
        assert_eq!(contacts.get(hall, day, r()).await.unwrap(), Some(vec![1, 2, 3]));
        assert!(contacts.erase_before(hall, day).await.unwrap().is_empty());
        let next = day.tomorrow().unwrap();
        assert_eq!(contacts.erase_before(hall, next).await.unwrap(), [day]);
        assert_eq!(contacts.get(hall, day, r()).await.unwrap(), None);
        assert!(!dir.path().join("contacts/h/2026-12-06").exists());
    }

    #[tokio::test]
    async fn kept_until_the_day_is_over_in_redis() {
        let server = crate::store::test_redis::RedisServer::start(false);
        let redis = RedisStore::connect(&server.url(), "t").await.unwrap();
        let contacts = Contacts::Redis(redis.clone());
        let hall = HallId::new("h").unwrap();
        let day = jiff::civil::date(2026, 12, 6);
        let ends = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2);
        contacts.put(hall, day, r(), vec![9, 9], ends).await.unwrap();
        assert_eq!(contacts.get(hall, day, r()).await.unwrap(), Some(vec![9, 9]));
        let ttl: i64 = redis::cmd("TTL")
            .arg(redis.key(hall, "contacts:2026-12-06"))
            .query_async(&mut redis.connection())
            .await
            .unwrap();
        assert!(
            ttl > 3 * 3600 - 60 && ttl <= 3 * 3600,
            "expires an hour after the day: {ttl}"
        );
        assert_eq!(
            contacts.erase_before(hall, day.tomorrow().unwrap()).await.unwrap(),
            [day]
        );
        assert_eq!(contacts.get(hall, day, r()).await.unwrap(), None);
    }
}
