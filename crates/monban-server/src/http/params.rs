//! Request parameters as ordered pairs, so repeated parameters can be detected (RFC 6749 §3.1
//! forbids them) and nothing is silently dropped.

use actix_web::HttpRequest;

/// Largest form body Monban reads; anything larger is refused before parsing.
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// Largest query string read.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

pub type Params = Vec<(String, String)>;

/// The query string's pairs, or `None` when it is too long or unreadable.
pub fn query(req: &HttpRequest) -> Option<Params> {
    let raw = req.query_string();
    if raw.len() > MAX_QUERY_BYTES {
        return None;
    }
    serde_urlencoded::from_str::<Params>(raw).ok()
}

/// A form body's pairs, or `None` when it is not `application/x-www-form-urlencoded` or unreadable.
pub fn form(req: &HttpRequest, body: &[u8]) -> Option<Params> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let is_form = content_type.split(';').next().is_some_and(|t| {
        t.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    });
    if !is_form || body.len() > MAX_FORM_BYTES {
        return None;
    }
    serde_urlencoded::from_bytes::<Params>(body).ok()
}

/// The first value of a parameter, if present and not empty.
pub use monban_oidc::param as first;

/// The client's address: the socket's peer, or what a trusted proxy says it forwarded for.
pub fn peer_ip(req: &HttpRequest) -> Option<String> {
    super::client_address::of(req).map(|ip| ip.to_string())
}
