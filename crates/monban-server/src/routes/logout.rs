//! RP-initiated logout: with a valid `id_token_hint` at once; otherwise after the member
//! confirms ("ログアウトしてもよろしいですか？" → "ログアウトする").

use super::oidc::{current_sso_session, log_failure};
use super::pages::{self, MessagePage};
use crate::app::AppState;
use crate::http::{cookies, headers, params};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use monban_core::config::RealmConfig;
use monban_oidc::{random_token, LogoutPlan};
use monban_store::sealed::digest;
use monban_store::LogoutRequest;
use serde::Serialize;

/// How long the confirmation page stays valid.
const CONFIRMATION_SECONDS: i64 = 600;

pub async fn start(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let params = params::query(&req);
    handle(req, &path, state, params).await
}

pub async fn start_post(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let params = params::form(&req, &body);
    handle(req, &path, state, params).await
}

fn error_page(
    state: &AppState,
    req: &HttpRequest,
    realm: &RealmConfig,
    message_key: &'static str,
) -> HttpResponse {
    pages::message(
        state,
        req,
        realm,
        StatusCode::BAD_REQUEST,
        MessagePage {
            title_key: "error_title",
            message_key,
            is_error: true,
            back_url: None,
        },
    )
}

async fn handle(
    req: HttpRequest,
    realm_name: &str,
    state: web::Data<AppState>,
    params: Option<params::Params>,
) -> HttpResponse {
    let Some(realm) = state.realm(realm_name) else {
        return pages::not_found(req, state).await;
    };
    let Some(params) = params else {
        return error_page(&state, &req, realm, "error_invalid_request");
    };
    let worker = state.clone();
    let name = realm.name.clone();
    let planned = web::block(move || {
        let realm = worker.realm(&name).expect("realm exists");
        worker.provider.plan_logout(realm, &params)
    })
    .await;
    let plan = match planned {
        Ok(Ok(plan)) => plan,
        Ok(Err(rejection)) => return error_page(&state, &req, realm, rejection.message_key()),
        Err(_) => return pages::server_error(),
    };
    let current = match current_sso_session(&state, &req, realm).await {
        Ok(current) => current,
        Err(response) => return response,
    };
    if let Some(hint) = &plan.hint {
        // The client vouches for the logout with an ID token it received: no question asked.
        // End the browser's session if it is the hinted member's, else the hinted session.
        let target = match (&current, &hint.sid) {
            (Some(session), _) if session.user_pk == hint.sub => Some(session.id.clone()),
            (_, Some(sid)) => Some(sid.clone()),
            _ => None,
        };
        if let Some(session_id) = target {
            if let Err(response) =
                end_session(&state, &req, realm, session_id, Some(hint.sub.clone())).await
            {
                return response;
            }
        }
        return finish(&state, &req, realm, &plan);
    }
    let Some(_) = current else {
        // Nothing to log out of.
        return finish(&state, &req, realm, &plan);
    };
    ask_to_confirm(&state, &req, realm, plan).await
}

#[derive(Serialize)]
struct ConfirmPage {
    action: String,
    session_code: String,
    back_url: Option<String>,
}

async fn ask_to_confirm(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    realm: &RealmConfig,
    plan: LogoutPlan,
) -> HttpResponse {
    let existing_key = req
        .cookie(cookies::BROWSER)
        .map(|c| c.value().to_string())
        .filter(|v| v.len() >= 32);
    let browser_key = existing_key.clone().unwrap_or_else(random_token);
    let request = LogoutRequest {
        id: random_token(),
        browser_binding: digest(&browser_key),
        realm: realm.name.clone(),
        client_id: plan.client_id.clone(),
        post_logout_redirect_uri: plan.redirect.clone(),
        expires_at: state.clock.now() + CONFIRMATION_SECONDS,
    };
    let worker = state.clone();
    let stored = request.clone();
    let saved = web::block(move || worker.store.insert_logout_request(&stored)).await;
    if !matches!(saved, Ok(Ok(()))) {
        log_failure("saving a logout request", saved);
        return pages::server_error();
    }
    let locale = pages::locale_for(req, realm, &[]);
    let page = ConfirmPage {
        action: format!(
            "/realms/{}/protocol/openid-connect/logout/logout-confirm",
            realm.name
        ),
        session_code: request.id,
        back_url: realm.back_url(plan.client_id.as_deref()),
    };
    let model = pages::frame(realm, Vec::new(), page);
    let mut response = pages::render(
        state,
        realm,
        locale,
        "logout_confirm",
        StatusCode::OK,
        &model,
        None,
    );
    if existing_key.is_none() {
        let cookie = cookies::build(
            cookies::BROWSER,
            browser_key,
            cookies::realm_path(&realm.name),
            state.secure_cookies,
            None,
        );
        let _ = response.add_cookie(&cookie);
    }
    response
}

pub async fn confirm(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(realm) = state.realm(&path) else {
        return pages::not_found(req, state).await;
    };
    let form = params::form(&req, &body).unwrap_or_default();
    let code = params::first(&form, "session_code").map(str::to_string);
    let browser = req.cookie(cookies::BROWSER).map(|c| digest(c.value()));
    let (Some(code), Some(browser)) = (code, browser) else {
        return error_page(&state, &req, realm, "error_csrf");
    };
    let worker = state.clone();
    let taken =
        web::block(move || worker.store.take_logout_request(&code, worker.clock.now())).await;
    let request = match taken {
        Ok(Ok(Some(request)))
            if request.browser_binding == browser && request.realm == realm.name =>
        {
            request
        }
        Ok(Ok(_)) => return error_page(&state, &req, realm, "error_csrf"),
        other => {
            log_failure("reading a logout request", other);
            return pages::server_error();
        }
    };
    match current_sso_session(&state, &req, realm).await {
        Ok(Some(session)) => {
            if let Err(response) = end_session(&state, &req, realm, session.id, None).await {
                return response;
            }
        }
        Ok(None) => {}
        Err(response) => return response,
    }
    let plan = LogoutPlan {
        hint: None,
        client_id: request.client_id,
        redirect: request.post_logout_redirect_uri,
    };
    finish(&state, &req, realm, &plan)
}

/// Ends a session (and only a session of `member`, when given).
async fn end_session(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    realm: &RealmConfig,
    session_id: String,
    member: Option<String>,
) -> Result<(), HttpResponse> {
    let worker = state.clone();
    let realm_name = realm.name.clone();
    let ip = params::peer_ip(req);
    let ended = web::block(move || -> Result<(), monban_oidc::OidcError> {
        let realm = worker.realm(&realm_name).expect("realm exists");
        let session = worker.store.find_sso_session(&session_id)?;
        let belongs = session.is_some_and(|s| member.as_ref().is_none_or(|m| *m == s.user_pk));
        if belongs {
            worker.provider.log_out(realm, &session_id, ip.as_deref())?;
        }
        Ok(())
    })
    .await;
    match ended {
        Ok(Ok(())) => Ok(()),
        other => {
            log_failure("logging out", other);
            Err(pages::server_error())
        }
    }
}

/// Back to the client's registered address, or a "ログアウトしました。" page; the SSO cookie goes.
fn finish(
    state: &AppState,
    req: &HttpRequest,
    realm: &RealmConfig,
    plan: &LogoutPlan,
) -> HttpResponse {
    let mut response = match &plan.redirect {
        Some(url) => headers::secure(&mut HttpResponse::Found())
            .insert_header(("location", url.as_str()))
            .finish(),
        None => pages::message(
            state,
            req,
            realm,
            StatusCode::OK,
            MessagePage {
                title_key: "logout_title",
                message_key: "logged_out",
                is_error: false,
                back_url: realm.back_url(plan.client_id.as_deref()),
            },
        ),
    };
    let mut removal = cookies::build(
        cookies::SESSION,
        String::new(),
        cookies::realm_path(&realm.name),
        state.secure_cookies,
        Some(0),
    );
    removal.make_removal();
    let _ = response.add_cookie(&removal);
    response
}
