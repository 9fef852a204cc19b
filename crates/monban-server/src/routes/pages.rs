//! Turning view models into HTML responses, in the member's language.

use crate::app::AppState;
use crate::http::{cookies, headers};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use monban_core::config::RealmConfig;
use monban_ui::{negotiate_locale, SUPPORTED_LOCALES};
use serde::Serialize;

/// What every page shows around its own content.
#[derive(Serialize)]
pub struct Frame<T: Serialize> {
    pub realm_title: String,
    pub resources: String,
    pub language_links: Vec<LanguageLink>,
    #[serde(flatten)]
    pub body: T,
}

#[derive(Serialize)]
pub struct LanguageLink {
    pub code: &'static str,
    pub name: String,
    pub href: String,
    pub current: bool,
}

/// The language of this response: the switch (`kc_locale`), the remembered choice, the
/// client's `ui_locales`, the browser, the realm's default.
pub fn locale_for(req: &HttpRequest, realm: &RealmConfig, ui_locales: &[String]) -> &'static str {
    let switch = crate::http::params::query(req)
        .and_then(|q| crate::http::params::first(&q, "kc_locale").map(str::to_string));
    let cookie = req.cookie(cookies::LOCALE).map(|c| c.value().to_string());
    let mut choices: Vec<&str> = Vec::new();
    choices.extend(switch.as_deref());
    choices.extend(cookie.as_deref());
    choices.extend(ui_locales.iter().map(String::as_str));
    let accept = req
        .headers()
        .get("accept-language")
        .and_then(|v| v.to_str().ok());
    negotiate_locale(&choices, accept, &realm.default_locale)
}

/// Links to the same page in each language; `base` is the page's own URL.
pub fn language_links(
    state: &AppState,
    realm: &RealmConfig,
    locale: &str,
    base: &str,
) -> Vec<LanguageLink> {
    SUPPORTED_LOCALES
        .iter()
        .map(|code| LanguageLink {
            code,
            name: state.ui.message(&realm.theme, code, "language_name"),
            href: format!(
                "{base}{}kc_locale={code}",
                if base.contains('?') { '&' } else { '?' }
            ),
            current: *code == locale,
        })
        .collect()
}

pub fn frame<T: Serialize>(
    realm: &RealmConfig,
    language_links: Vec<LanguageLink>,
    body: T,
) -> Frame<T> {
    Frame {
        realm_title: realm.display_title.clone(),
        resources: format!("/resources/{}", realm.theme),
        language_links,
        body,
    }
}

/// Renders a page; a template failure becomes a plain 500 (and is logged), never a panic.
pub fn render<T: Serialize>(
    state: &AppState,
    realm: &RealmConfig,
    locale: &str,
    page: &str,
    status: StatusCode,
    model: &Frame<T>,
    script_nonce: Option<&str>,
) -> HttpResponse {
    match state.ui.render(&realm.theme, locale, page, model) {
        Ok(html) => headers::secure(&mut HttpResponse::build(status))
            .insert_header(("content-security-policy", headers::page_csp(script_nonce)))
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(error) => {
            tracing::error!(%error, "rendering a page failed");
            server_error()
        }
    }
}

#[derive(Serialize)]
pub struct MessagePage {
    pub title_key: &'static str,
    pub message_key: &'static str,
    pub is_error: bool,
    pub back_url: Option<String>,
}

/// A page with one message (errors, the expired-login page, notices).
pub fn message(
    state: &AppState,
    req: &HttpRequest,
    realm: &RealmConfig,
    status: StatusCode,
    page: MessagePage,
) -> HttpResponse {
    let locale = locale_for(req, realm, &[]);
    let model = frame(realm, Vec::new(), page);
    render(state, realm, locale, "message", status, &model, None)
}

pub fn server_error() -> HttpResponse {
    headers::secure(&mut HttpResponse::InternalServerError())
        .content_type("text/plain; charset=utf-8")
        .body("Internal error / 内部エラーが発生しました。")
}

pub async fn not_found(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    // Inside a known realm, answer in its look; elsewhere, plainly.
    let realm_name = req
        .path()
        .strip_prefix("/realms/")
        .and_then(|rest| rest.split('/').next());
    match realm_name.and_then(|name| state.realm(name)) {
        Some(realm) => message(
            &state,
            &req,
            realm,
            StatusCode::NOT_FOUND,
            MessagePage {
                title_key: "error_title",
                message_key: "error_not_found",
                is_error: true,
                back_url: None,
            },
        ),
        None => headers::secure(&mut HttpResponse::NotFound())
            .content_type("text/plain; charset=utf-8")
            .body("Not found"),
    }
}
