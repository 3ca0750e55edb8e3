//! The opening handshake: a GET with `Upgrade: websocket`, answered with
//! 101 and the key's digest.

use axum::http::{HeaderMap, Method};
use base64::Engine as _;
use sha1::{Digest, Sha1};

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("a WebSocket upgrade must be a GET")]
    Method,
    #[error("not a WebSocket upgrade request (Connection: Upgrade and Upgrade: websocket are needed)")]
    NotUpgrade,
    #[error("only WebSocket version 13 is spoken")]
    Version,
    #[error("Sec-WebSocket-Key is missing or malformed")]
    Key,
}

fn has_token(headers: &HeaderMap, name: &str, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Checks an upgrade request; the `Sec-WebSocket-Accept` value to answer with.
///
/// # Errors
/// What makes it not a WebSocket version 13 upgrade.
pub fn check_upgrade(method: &Method, headers: &HeaderMap) -> Result<String, HandshakeError> {
    if method != Method::GET {
        return Err(HandshakeError::Method);
    }
    if !has_token(headers, "connection", "upgrade") || !has_token(headers, "upgrade", "websocket") {
        return Err(HandshakeError::NotUpgrade);
    }
    if headers.get("sec-websocket-version").and_then(|v| v.to_str().ok()) != Some("13") {
        return Err(HandshakeError::Version);
    }
    let key = headers
        .get("sec-websocket-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| {
            base64::engine::general_purpose::STANDARD
                .decode(k)
                .is_ok_and(|b| b.len() == 16)
        })
        .ok_or(HandshakeError::Key)?;
    Ok(accept_key(key))
}

/// The digest a server answers a client's key with.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_example_key() {
        // RFC 6455, section 1.3.
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn requests_that_are_not_upgrades_are_named() {
        let mut h = HeaderMap::new();
        assert_eq!(check_upgrade(&Method::GET, &h), Err(HandshakeError::NotUpgrade));
        h.insert("connection", "keep-alive, Upgrade".parse().unwrap());
        h.insert("upgrade", "WebSocket".parse().unwrap());
        assert_eq!(check_upgrade(&Method::GET, &h), Err(HandshakeError::Version));
        h.insert("sec-websocket-version", "13".parse().unwrap());
        assert_eq!(check_upgrade(&Method::GET, &h), Err(HandshakeError::Key));
        h.insert("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap());
        assert_eq!(check_upgrade(&Method::GET, &h).unwrap(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(check_upgrade(&Method::POST, &h), Err(HandshakeError::Method));
    }
}
