//! The browser pages (`displays/`), embedded in the binary so one file
//! deploys: the guide desk, window console, hall and window displays, LED
//! board, supervisor board, reports and the citizen's ticket page. Plain HTML, CSS
//! and JavaScript modules: no build step.

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

/// (URL path, file, content type). Pages are routed by name; assets by file.
const PAGES: &[(&str, &str)] = &[
    ("/", "index.html"),
    ("/desk", "desk.html"),
    ("/console", "console.html"),
    ("/hall", "hall.html"),
    ("/window", "window.html"),
    ("/led", "led.html"),
    ("/supervisor", "supervisor.html"),
    ("/report", "report.html"),
    ("/evaluator", "evaluator.html"),
    ("/admin", "admin.html"),
];

macro_rules! embed {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/displays/", $name)) as &[u8])),*]
    };
}

/// Every file of `displays/` that is served.
const FILES: &[(&str, &[u8])] = embed!(
    "index.html",
    "desk.html",
    "console.html",
    "hall.html",
    "window.html",
    "led.html",
    "supervisor.html",
    "report.html",
    "evaluator.html",
    "admin.html",
    "ticket.html",
    "assets/app.css",
    "assets/common.js",
    "assets/i18n.js",
    "assets/live.js",
    "assets/pinyin.js",
);

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

fn file(name: &str) -> Response {
    match FILES.iter().find(|(n, _)| *n == name) {
        Some((n, bytes)) => {
            let body = from_disk(n).unwrap_or_else(|| bytes.to_vec());
            let mut response = (
                [
                    (header::CONTENT_TYPE, content_type(n)),
                    // Pages change with the binary: revalidate, never go stale
                    // on a kiosk that runs for months.
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body.clone(),
            )
                .into_response();
            if n.ends_with(".html")
                && let Ok(csp) = header::HeaderValue::from_str(&page_policy(&body))
            {
                response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
            }
            response
        }
        None => super::ApiError::not_found("not_found", format!("no such file {name:?}")).into_response(),
    }
}

/// A page's Content-Security-Policy: its own inline scripts by their
/// SHA-256 and this server's files, nothing else (an injected script
/// does not run); styles inline too (the pages set them); pictures also
/// from `https:` (staff photos on the hall's web server); no framing.
fn page_policy(html: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let text = String::from_utf8_lossy(html);
    let mut hashes = String::new();
    let mut rest = text.as_ref();
    while let Some(open) = rest.find("<script") {
        let after = &rest[open..];
        let Some(tag_end) = after.find('>') else { break };
        let tag = &after[..tag_end];
        let body = &after[tag_end + 1..];
        let Some(close) = body.find("</script>") else { break };
        if !tag.contains("src=") {
            let digest = sha2::Sha256::digest(&body.as_bytes()[..close]);
            hashes.push_str(" 'sha256-");
            hashes.push_str(&base64::engine::general_purpose::STANDARD.encode(digest));
            hashes.push('\'');
        }
        rest = &body[close..];
    }
    format!(
        "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: https:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// In a debug build only, `HALLCALL_PAGES_DIR=displays` serves the pages
/// from that directory as they are now, so they can be edited without a
/// rebuild. Only names embedded above are read; a release binary always
/// serves what it was built with.
fn from_disk(name: &str) -> Option<Vec<u8>> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let dir = std::env::var_os("HALLCALL_PAGES_DIR")?;
    std::fs::read(std::path::Path::new(&dir).join(name)).ok()
}

pub fn router() -> Router<AppState> {
    let mut r = Router::new();
    for (path, name) in PAGES {
        r = r.route(path, get(move || async move { file(name) }));
    }
    r.route("/t/{token}", get(|| async { file("ticket.html") })).route(
        "/assets/{name}",
        get(|Path(name): Path<String>| async move { file(&format!("assets/{name}")) }),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_page_policy_names_each_inline_script_by_its_hash_and_no_other() {
        let html = b"<p><script type=\"module\">alert(1)</script><script src=\"/assets/x.js\"></script>";
        let p = super::page_policy(html);
        // sha256("alert(1)"), base64.
        assert!(
            p.contains("script-src 'self' 'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='; "),
            "{p}"
        );
        assert_eq!(p.matches("sha256-").count(), 1, "{p}");
        assert!(p.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn every_page_is_embedded() {
        for (_, name) in super::PAGES {
            assert!(super::FILES.iter().any(|(n, _)| n == name), "{name}");
        }
    }

    /// Refusal codes the HTTP layer makes itself (the engine's are read
    /// from its source below).
    const HTTP_CODES: &[&str] = &[
        "bad_body",
        "bad_code",
        "bad_date",
        "bad_id_number",
        "bad_path",
        "bad_query",
        "bad_range",
        "bad_ticket",
        "body_too_large",
        "content_type",
        "corrupt_store",
        "forbidden",
        "bad_idempotency_key",
        "idempotency_key_reused",
        "internal",
        "not_a_device_account",
        "not_rateable_here",
        "pairings_full",
        "unknown_pairing",
        "wrong_pin",
        "invalid_body",
        "malformed_json",
        "quota_exceeded",
        "range_too_long",
        "rate_limited",
        "store_unavailable",
        "unauthenticated",
        "unknown_action",
        "unknown_hall",
        "config_invalid",
        "unknown_version",
        "version_gone",
        "no_platform",
        "consent_required",
        "bad_phone",
        "bad_openid",
        "notices_off",
        "no_printer",
    ];

    #[test]
    fn pages_explain_every_refusal_in_both_languages() {
        let i18n = std::str::from_utf8(super::FILES.iter().find(|(n, _)| *n == "assets/i18n.js").unwrap().1).unwrap();
        let (zh, en) = i18n.split_once("\n  en: {").expect("zh then en");
        let engine = include_str!("../engine/error.rs");
        let engine_codes = engine
            .split("=> \"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap_or_default())
            .collect::<Vec<_>>();
        assert!(engine_codes.len() > 30, "the engine's codes are read: {engine_codes:?}");
        for code in engine_codes.into_iter().chain(HTTP_CODES.iter().copied()) {
            for (lang, text) in [("zh", zh), ("en", en)] {
                assert!(
                    text.contains(&format!("err_{code}:")),
                    "no {lang} text for refusal {code}"
                );
            }
        }
    }
}
