//! Monban's cookies. All are HttpOnly and SameSite=Lax, `Secure` when the public URL is https.
//! Session cookies are scoped to the realm's path so realms never see each other's sessions;
//! only the language choice applies everywhere.

use actix_web::cookie::{time::Duration, Cookie, SameSite};

/// Binds a login in progress to the browser that started it.
pub const BROWSER: &str = "MONBAN_BROWSER";
/// The SSO session.
pub const SESSION: &str = "MONBAN_SESSION";
/// The member's language choice.
pub const LOCALE: &str = "MONBAN_LOCALE";

pub fn realm_path(realm: &str) -> String {
    format!("/realms/{realm}/")
}

pub fn build(
    name: &'static str,
    value: String,
    path: String,
    secure: bool,
    max_age: Option<i64>,
) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish();
    if let Some(seconds) = max_age {
        cookie.set_max_age(Duration::seconds(seconds));
    }
    cookie
}
