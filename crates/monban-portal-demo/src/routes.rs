//! HTTP routes: `/`, `/login`, `/callback`, `/logout` (GET asks, POST logs out).

use std::time::Instant;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::oidc::{LoginOptions, PortalError, RelyingParty};
use crate::pages::Pages;
use crate::session::SessionStore;

/// Random session ID, HttpOnly, SameSite=Lax: sent on the top-level redirect back from
/// Monban, but not on cross-site POSTs.
pub const SESSION_COOKIE: &str = "portal_session";

pub struct AppState {
    pub rp: RelyingParty,
    pub sessions: SessionStore,
    pub pages: Pages,
    pub secure_cookies: bool,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/login", web::get().to(login))
        .route("/callback", web::get().to(callback))
        .route("/logout", web::get().to(confirm_logout))
        .route("/logout", web::post().to(logout))
        .default_service(web::to(not_found));
}

/// Parameters of the authorization response (RFC 6749 §4.1.2, RFC 9207).
#[derive(Debug, Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn session_id(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned())
}

fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies)
        .finish()
}

fn redirect(status: StatusCode, location: &str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

async fn home(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let user = session_id(&req).and_then(|sid| state.sessions.user(&sid, Instant::now()));
    state.pages.home(user.as_ref())
}

async fn login(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let options = match web::Query::<LoginOptions>::from_query(req.query_string()) {
        Ok(options) => options.into_inner(),
        Err(e) => return state.pages.error(&bad_request(&e)),
    };
    let (url, csrf_state, pending) = match state.rp.begin_login(&options).await {
        Ok(started) => started,
        Err(e) => return state.pages.error(&e),
    };
    let sid = state.sessions.start_login(
        session_id(&req).as_deref(),
        csrf_state,
        pending,
        Instant::now(),
    );
    redirect(StatusCode::FOUND, url.as_str())
        .cookie(session_cookie(&state, sid))
        .finish()
}

async fn callback(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match finish_callback(&req, &state).await {
        Ok(sid) => redirect(StatusCode::SEE_OTHER, "/")
            .cookie(session_cookie(&state, sid))
            .finish(),
        Err(e) => state.pages.error(&e),
    }
}

/// Returns the new session ID of the signed-in member.
async fn finish_callback(req: &HttpRequest, state: &AppState) -> Result<String, PortalError> {
    let params = web::Query::<CallbackParams>::from_query(req.query_string())
        .map_err(|e| bad_request(&e))?
        .into_inner();
    let sid = session_id(req);
    // The login is consumed whatever the outcome, so a response cannot be replayed.
    let pending = match (&sid, &params.state) {
        (Some(sid), Some(csrf_state)) => {
            state.sessions.take_pending(sid, csrf_state, Instant::now())
        }
        _ => None,
    };

    // RFC 9207 applies to error responses as well.
    state
        .rp
        .check_response_issuer(params.iss.as_deref())
        .await?;
    if let Some(error) = &params.error {
        return Err(PortalError::from_authorization_response(
            error,
            params.error_description.as_deref(),
        ));
    }
    let (Some(sid), Some(pending)) = (sid, pending) else {
        return Err(PortalError::login_expired());
    };
    let Some(code) = params.code.filter(|c| !c.is_empty()) else {
        return Err(PortalError::new(
            StatusCode::BAD_REQUEST,
            "認証サーバからの応答に認可コードがありません。もう一度ログインしてください。",
            None,
        ));
    };
    let user = state.rp.finish_login(code, pending).await?;
    Ok(state.sessions.sign_in(&sid, user, Instant::now()))
}

/// Ends the local session, then sends the browser to Monban's end-session endpoint so the
/// SSO session ends too (with `id_token_hint` when we still have the ID token).
async fn confirm_logout(state: web::Data<AppState>) -> HttpResponse {
    state.pages.logout_confirmation()
}

async fn logout(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let user = session_id(&req).and_then(|sid| state.sessions.sign_out(&sid));
    let url = state
        .rp
        .logout_url(user.as_ref().map(|u| &u.id_token))
        .await;
    let mut removal = session_cookie(&state, String::new());
    removal.make_removal();
    redirect(StatusCode::SEE_OTHER, url.as_str())
        .cookie(removal)
        .finish()
}

async fn not_found(state: web::Data<AppState>) -> HttpResponse {
    state.pages.error(&PortalError::new(
        StatusCode::NOT_FOUND,
        "ページが見つかりません。",
        None,
    ))
}

fn bad_request(err: &dyn std::error::Error) -> PortalError {
    PortalError::new(
        StatusCode::BAD_REQUEST,
        "リクエストの形式が正しくありません。",
        Some(err.to_string()),
    )
}
