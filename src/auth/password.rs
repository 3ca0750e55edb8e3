//! Password hashing for the accounts in the hall config (argon2id, the
//! crate's recommended parameters).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The hash of the sample accounts' password, `hallcall-demo`, as the
/// sample configurations carry it: a server that still has it must say so.
pub const SAMPLE_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$z5rI4j4g1EmAgp3zGxcTJw$GbaB6JrEHunOwNudcCKdXVKdTLHBAufqbhikHa+qwQw";

/// A PHC string (`$argon2id$v=19$...`) for the config file.
///
/// # Errors
/// The system has no randomness for the salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness for a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash: {e}"))
}

/// Whether `password` matches `hash`. A malformed hash never matches
/// (validation refuses those at start).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}
