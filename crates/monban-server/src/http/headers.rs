//! Security headers on every response: no framing, no sniffing, no caching of pages that carry
//! personal data or tokens, and a Content-Security-Policy that allows only our own styles and
//! the one inline script we write (by nonce).

use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpResponseBuilder;

/// Adds the headers every page and API answer gets.
pub fn secure(builder: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .insert_header((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .insert_header((
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

/// The policy for HTML pages; `script_nonce` allows one inline script (the form_post page).
pub fn page_csp(script_nonce: Option<&str>) -> String {
    let script = match script_nonce {
        Some(nonce) => format!("script-src 'nonce-{nonce}'"),
        None => "script-src 'none'".to_string(),
    };
    // No form-action: the login form's answer is a redirect to the client, which form-action
    // would block in some browsers.
    format!("default-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; {script}; frame-ancestors 'none'; base-uri 'none'")
}
