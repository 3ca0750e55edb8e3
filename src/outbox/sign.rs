//! Signing as the Standard Webhooks specification has it
//! (<https://www.standardwebhooks.com>): the receiver checks
//! `webhook-signature` against an HMAC-SHA256 of
//! `{webhook-id}.{webhook-timestamp}.{body}` under the shared secret, and
//! drops a message whose timestamp is outside its window (replays) or whose
//! id it has seen (repeats). Libraries exist for most languages.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a receiver lets a timestamp be from its own clock.
pub const TOLERANCE_SECS: i64 = 300;
/// Shortest secret accepted.
pub const MIN_SECRET: usize = 16;

/// A signing secret: the bytes after `whsec_`, base64-decoded, as the
/// specification writes secrets; any other file content is used as it is.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// # Errors
    /// Too short, or `whsec_` followed by something that is not base64.
    pub fn parse(text: &str) -> Result<Secret, String> {
        let t = text.trim();
        let bytes = match t.strip_prefix("whsec_") {
            Some(b64) => STANDARD
                .decode(b64)
                .map_err(|e| format!("a whsec_ secret is base64: {e}"))?,
            None => t.as_bytes().to_vec(),
        };
        if bytes.len() < MIN_SECRET {
            return Err(format!("a signing secret is at least {MIN_SECRET} bytes"));
        }
        Ok(Secret(bytes))
    }

    /// Reads a secret from its file.
    ///
    /// # Errors
    /// The file cannot be read, or holds no usable secret.
    pub fn read(path: &std::path::Path) -> Result<Secret, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Secret::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` header's value.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!(
            "v1,{}",
            STANDARD.encode(self.mac(id, timestamp, body).finalize().into_bytes())
        )
    }

    /// Checks a message as a receiver does: one of the header's
    /// space-separated `v1,` signatures matches, in constant time, and the
    /// timestamp is within [`TOLERANCE_SECS`] of `now`.
    ///
    /// # Errors
    /// What is wrong, for the receiver's answer.
    pub fn verify(&self, id: &str, timestamp: &str, signature: &str, body: &[u8], now: i64) -> Result<(), String> {
        let ts: i64 = timestamp
            .parse()
            .map_err(|_| "webhook-timestamp is not a number".to_owned())?;
        if (now - ts).abs() > TOLERANCE_SECS {
            return Err(format!(
                "webhook-timestamp {ts} is outside the {TOLERANCE_SECS} s window"
            ));
        }
        for sig in signature.split(' ') {
            let Some(b64) = sig.strip_prefix("v1,") else { continue };
            let Ok(given) = STANDARD.decode(b64) else { continue };
            if self.mac(id, ts, body).verify_slice(&given).is_ok() {
                return Ok(());
            }
        }
        Err("no signature matches".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's own example (its reference libraries' tests).
    #[test]
    fn the_specifications_example_signs_the_same() {
        let secret = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let sig = secret.sign(
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(sig, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn a_receiver_refuses_changed_bodies_old_timestamps_and_other_keys() {
        let secret = Secret::parse("a secret of enough bytes").unwrap();
        let body = br#"{"type":"TicketCalled"}"#;
        let sig = secret.sign("id1", 1_000_000, body);
        assert!(secret.verify("id1", "1000000", &sig, body, 1_000_100).is_ok());
        // Several signatures (a key being rotated): any one may match.
        let both = format!("v1,AAAA {sig}");
        assert!(secret.verify("id1", "1000000", &both, body, 1_000_000).is_ok());
        assert!(secret.verify("id1", "1000000", &sig, b"{}", 1_000_000).is_err());
        assert!(secret.verify("id2", "1000000", &sig, body, 1_000_000).is_err());
        assert!(secret.verify("id1", "1000000", &sig, body, 1_000_301).is_err());
        let other = Secret::parse("another secret, long enough").unwrap();
        assert!(other.verify("id1", "1000000", &sig, body, 1_000_000).is_err());
        assert!(Secret::parse("short").is_err());
        assert!(Secret::parse("whsec_not base64!").is_err());
    }
}
