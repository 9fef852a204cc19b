//! The OpenID Connect endpoints: discovery, JWKS, authorization, token, userinfo.

use super::pages::{self, MessagePage};
use crate::app::AppState;
use crate::http::{cookies, headers, params};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use monban_core::config::RealmConfig;
use monban_flow::FlowStore;
use monban_oidc::authorize::{parse_authorization_request, AuthorizeRejection, ErrorRedirect};
use monban_oidc::token::AuthorizationResponse;
use monban_oidc::{random_token, AuthorizationRequest, BearerError, ResponseMode};
use monban_store::SsoSession;
use serde::Serialize;
use serde_json::json;

pub fn json_response(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    headers::secure(&mut HttpResponse::build(status))
        .content_type("application/json")
        .body(body.to_string())
}

pub fn unknown_realm() -> HttpResponse {
    json_response(StatusCode::NOT_FOUND, &json!({"error": "realm_not_found"}))
}

pub async fn discovery(path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    match state.realm(&path) {
        Some(realm) => HttpResponse::Ok()
            .content_type("application/json")
            .insert_header(("cache-control", "public, max-age=300"))
            .body(state.provider.discovery_document(&realm.name).to_string()),
        None => unknown_realm(),
    }
}

pub async fn certs(path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    if state.realm(&path).is_none() {
        return unknown_realm();
    }
    let realm = path.into_inner();
    let worker = state.clone();
    match web::block(move || worker.provider.keys.jwks(&realm)).await {
        Ok(Ok(jwks)) => HttpResponse::Ok()
            .content_type("application/json")
            // Short: clients must see a rotated key soon.
            .insert_header(("cache-control", "public, max-age=60"))
            .body(jwks.to_string()),
        other => {
            log_failure("jwks", other);
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": "server_error"}),
            )
        }
    }
}

pub async fn authorize(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let params = params::query(&req);
    authorize_with(req, &path, state, params).await
}

/// OIDC Core §3.1.2.1: the authorization endpoint also accepts POST.
pub async fn authorize_post(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let params = params::form(&req, &body);
    authorize_with(req, &path, state, params).await
}

async fn authorize_with(
    req: HttpRequest,
    realm_name: &str,
    state: web::Data<AppState>,
    params: Option<params::Params>,
) -> HttpResponse {
    let Some(realm) = state.realm(realm_name) else {
        return pages::not_found(req, state).await;
    };
    let error_page = |message_key| {
        pages::message(
            &state,
            &req,
            realm,
            StatusCode::BAD_REQUEST,
            MessagePage {
                title_key: "error_title",
                message_key,
                is_error: true,
                back_url: None,
            },
        )
    };
    let Some(params) = params else {
        return error_page("error_invalid_request");
    };
    let request = match parse_authorization_request(realm, &params) {
        Ok(request) => request,
        Err(AuthorizeRejection::ErrorPage(reason)) => return error_page(reason.message_key()),
        Err(AuthorizeRejection::Redirect(error)) => {
            return deliver(
                &state,
                &req,
                realm,
                &state.provider.error_response(&realm.name, &error),
            );
        }
    };

    // Single sign-on: a live session answers at once, unless the client wants a fresh login.
    let session = match current_sso_session(&state, &req, realm).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    // OIDC Core §3.1.2.1: an `id_token_hint` names the member the client expects; a session
    // of someone else does not answer for them.
    let session = match params::first(&params, "id_token_hint") {
        None => session,
        Some(hint) => match hint_subject(&state, realm, hint).await {
            Some(subject) => session.filter(|s| s.user_pk == subject),
            None => {
                let error = ErrorRedirect {
                    redirect_uri: request.redirect_uri.clone(),
                    response_mode: request.response_mode,
                    error: "invalid_request",
                    description: "id_token_hint is not an ID token of this realm".into(),
                    state: request.state.clone(),
                };
                return deliver(
                    &state,
                    &req,
                    realm,
                    &state.provider.error_response(&realm.name, &error),
                );
            }
        },
    };
    let now = state.clock.now();
    if let Some(session) = session {
        let fresh_enough = request
            .max_age
            .is_none_or(|age| now - session.auth_time <= age);
        if !request.prompt_login && fresh_enough {
            return issue_code_and_deliver(&state, &req, realm, request, session).await;
        }
    }
    if request.prompt_none {
        let error = ErrorRedirect {
            redirect_uri: request.redirect_uri.clone(),
            response_mode: request.response_mode,
            error: "login_required",
            description: "the member must log in".into(),
            state: request.state.clone(),
        };
        return deliver(
            &state,
            &req,
            realm,
            &state.provider.error_response(&realm.name, &error),
        );
    }
    start_login(&state, &req, realm, request).await
}

/// The member an ID token hint names (verifying it may read keys from the database).
async fn hint_subject(
    state: &web::Data<AppState>,
    realm: &RealmConfig,
    hint: &str,
) -> Option<String> {
    let worker = state.clone();
    let realm_name = realm.name.clone();
    let hint = hint.to_string();
    web::block(move || {
        let realm = worker.realm(&realm_name).expect("realm exists");
        worker.provider.id_token_hint_subject(realm, &hint)
    })
    .await
    .ok()
    .flatten()
}

/// The SSO session behind the request's cookie, if it is alive.
pub async fn current_sso_session(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    realm: &RealmConfig,
) -> Result<Option<SsoSession>, HttpResponse> {
    let Some(cookie) = req.cookie(cookies::SESSION).map(|c| c.value().to_string()) else {
        return Ok(None);
    };
    let worker = state.clone();
    let realm_name = realm.name.clone();
    let found = web::block(move || {
        let realm = worker.realm(&realm_name).expect("realm exists");
        worker.provider.sso_session_from_cookie(realm, &cookie)
    })
    .await;
    match found {
        Ok(Ok(session)) => Ok(session),
        other => {
            log_failure("sso session lookup", other);
            Err(pages::server_error())
        }
    }
}

/// Opens an auth session for the request and sends the browser to the login form.
async fn start_login(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    realm: &RealmConfig,
    request: AuthorizationRequest,
) -> HttpResponse {
    let existing_key = req
        .cookie(cookies::BROWSER)
        .map(|c| c.value().to_string())
        .filter(|v| v.len() >= 32);
    let browser_key = existing_key.clone().unwrap_or_else(random_token);
    let client_id = request.client_id.clone();
    let worker = state.clone();
    let realm_name = realm.name.clone();
    let lifetime = realm.tokens.login_seconds;
    let key = browser_key.clone();
    let created = web::block(move || {
        let flows = FlowStore {
            store: &worker.store,
        };
        flows.create(&realm_name, request, &key, worker.clock.now(), lifetime)
    })
    .await;
    let session_id = match created {
        Ok(Ok(session)) => session.id,
        other => {
            log_failure("starting a login", other);
            return pages::server_error();
        }
    };
    let location = login_url(&realm.name, &session_id, &client_id);
    let mut response = headers::secure(&mut HttpResponse::Found())
        .insert_header(("location", location))
        .finish();
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

/// The login form's address. `client_id` rides along so that an expired login can still offer
/// the way back to the right portal.
pub fn login_url(realm: &str, session_id: &str, client_id: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("session", session_id)
        .append_pair("client_id", client_id)
        .finish();
    format!("/realms/{realm}/login-actions/authenticate?{query}")
}

/// Issues a code for a logged-in member and sends it to the client.
pub async fn issue_code_and_deliver(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    realm: &RealmConfig,
    request: AuthorizationRequest,
    session: SsoSession,
) -> HttpResponse {
    let worker = state.clone();
    let realm_name = realm.name.clone();
    let issued = web::block(move || {
        let realm = worker.realm(&realm_name).expect("realm exists");
        worker.provider.issue_code(realm, &request, &session)
    })
    .await;
    match issued {
        Ok(Ok(response)) => deliver(state, req, realm, &response),
        other => {
            log_failure("issuing a code", other);
            pages::server_error()
        }
    }
}

#[derive(Serialize)]
struct FormPostPage {
    redirect_uri: String,
    fields: Vec<FormField>,
    script_nonce: String,
}

#[derive(Serialize)]
struct FormField {
    name: String,
    value: String,
}

/// Sends an authorization response the way the client asked: a redirect, or an auto-posting form.
pub fn deliver(
    state: &AppState,
    req: &HttpRequest,
    realm: &RealmConfig,
    response: &AuthorizationResponse,
) -> HttpResponse {
    match response.mode {
        ResponseMode::Query => headers::secure(&mut HttpResponse::Found())
            .insert_header(("location", response.query_url()))
            .finish(),
        ResponseMode::FormPost => {
            let nonce = random_token();
            let page = FormPostPage {
                redirect_uri: response.redirect_uri.clone(),
                fields: response
                    .params
                    .iter()
                    .map(|(name, value)| FormField {
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect(),
                script_nonce: nonce.clone(),
            };
            let locale = pages::locale_for(req, realm, &[]);
            let model = pages::frame(realm, Vec::new(), page);
            pages::render(
                state,
                realm,
                locale,
                "form_post",
                StatusCode::OK,
                &model,
                Some(&nonce),
            )
        }
    }
}

pub async fn userinfo(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if state.realm(&path).is_none() {
        return unknown_realm();
    }
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let from_header = header.and_then(|h| {
        h.get(..7)
            .filter(|p| p.eq_ignore_ascii_case("bearer "))
            .map(|_| h[7..].trim().to_string())
    });
    // RFC 6750 §2.2: a form-encoded body may carry the token instead.
    let from_body = params::form(&req, &body)
        .and_then(|p| params::first(&p, "access_token").map(str::to_string));
    let token = from_header.or(from_body);
    let realm_name = path.into_inner();
    let worker = state.clone();
    let name = realm_name.clone();
    let outcome = web::block(move || {
        let realm = worker.realm(&name).expect("realm exists");
        worker.provider.userinfo(realm, token.as_deref())
    })
    .await;
    let challenge = |error: Option<&str>| {
        let value = match error {
            Some(error) => format!("Bearer realm=\"{realm_name}\", error=\"{error}\""),
            None => format!("Bearer realm=\"{realm_name}\""),
        };
        headers::secure(&mut HttpResponse::Unauthorized())
            .insert_header(("www-authenticate", value))
            .finish()
    };
    match outcome {
        Ok(Ok(claims)) => json_response(StatusCode::OK, &claims),
        Ok(Err(BearerError::Missing)) => challenge(None),
        Ok(Err(BearerError::InvalidToken)) => challenge(Some("invalid_token")),
        other => {
            log_failure("userinfo", other.map(|r| r.map_err(|_| "server error")));
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": "server_error"}),
            )
        }
    }
}

/// Logs why a blocking call failed, without the payload of a success.
pub fn log_failure<T, E: std::fmt::Display>(
    what: &str,
    outcome: Result<Result<T, E>, actix_web::error::BlockingError>,
) {
    match outcome {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::error!(%error, "{what} failed"),
        Err(error) => tracing::error!(%error, "{what}: worker failed"),
    }
}
