//! The login form: shows it, checks what the member typed, and on success opens the SSO
//! session and returns to the client.

use super::oidc::{current_sso_session, deliver, issue_code_and_deliver, log_failure, login_url};
use super::pages::{self, MessagePage};
use crate::app::AppState;
use crate::http::rate_limit::{self, Verdict};
use crate::http::{client_address, cookies, headers, params};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use monban_core::config::RealmConfig;
use monban_flow::{
    AuthSession, Engine, FlowError, FlowStore, Form, Member, Progress, StepContext, StepView,
};
use monban_oidc::{ErrorRedirect, NewSsoSession};
use monban_store::AuditEvent;
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq;

/// The pieces of a login-actions URL.
struct LoginAddress {
    session_id: Option<String>,
    client_id: Option<String>,
}

fn address(req: &HttpRequest) -> LoginAddress {
    let query = params::query(req).unwrap_or_default();
    LoginAddress {
        session_id: params::first(&query, "session").map(str::to_string),
        client_id: params::first(&query, "client_id").map(str::to_string),
    }
}

/// The friendly page for a login that ran out of time (or never existed in this browser).
fn expired(
    state: &AppState,
    req: &HttpRequest,
    realm: &RealmConfig,
    client_id: Option<&str>,
) -> HttpResponse {
    pages::message(
        state,
        req,
        realm,
        StatusCode::BAD_REQUEST,
        MessagePage {
            title_key: "login_expired_title",
            message_key: "login_expired",
            is_error: false,
            back_url: realm.back_url(client_id),
        },
    )
}

/// The login this address named is no longer there. If the member is logged in (they pressed
/// Back after logging in, say), say so; otherwise the login ran out of time.
async fn gone(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    realm: &RealmConfig,
    client_id: Option<&str>,
) -> HttpResponse {
    match current_sso_session(state, req, realm).await {
        Ok(Some(_)) => pages::message(
            state,
            req,
            realm,
            StatusCode::OK,
            MessagePage {
                title_key: "already_logged_in_title",
                message_key: "already_logged_in",
                is_error: false,
                back_url: realm.back_url(client_id),
            },
        ),
        Ok(None) => expired(state, req, realm, client_id),
        Err(response) => response,
    }
}

async fn load_session(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    realm: &RealmConfig,
    session_id: Option<String>,
) -> Result<Option<AuthSession>, HttpResponse> {
    let (Some(session_id), Some(browser_key)) = (
        session_id,
        req.cookie(cookies::BROWSER).map(|c| c.value().to_string()),
    ) else {
        return Ok(None);
    };
    let worker = state.clone();
    let realm_name = realm.name.clone();
    let loaded = web::block(move || {
        FlowStore {
            store: &worker.store,
        }
        .load(&realm_name, &session_id, &browser_key, worker.clock.now())
    })
    .await;
    match loaded {
        Ok(Ok(session)) => Ok(session),
        other => {
            log_failure("loading a login", other);
            Err(pages::server_error())
        }
    }
}

/// Renders a step's page: its own view model plus what every login page has (the form's
/// address with the CSRF token, the recovery links, the way back to the client).
fn render_step(
    state: &AppState,
    req: &HttpRequest,
    realm: &RealmConfig,
    session: &AuthSession,
    view: StepView,
    status: StatusCode,
) -> HttpResponse {
    let action = login_url(&realm.name, &session.id, &session.request.client_id);
    let locale = pages::locale_for(req, realm, &session.request.ui_locales);
    let recovery = |page: &str| {
        format!(
            "/realms/{}/login-actions/{page}?client_id={}",
            realm.name,
            url_encode(&session.request.client_id)
        )
    };
    let mut page = match view.model {
        Value::Object(fields) => fields,
        _ => Map::new(),
    };
    page.insert("action".into(), json!(action));
    page.insert("csrf_token".into(), json!(session.csrf_token));
    page.insert(
        "forgot_password_url".into(),
        json!(recovery("forgot-password")),
    );
    page.insert(
        "forgot_user_id_url".into(),
        json!(recovery("forgot-user-id")),
    );
    page.insert(
        "back_url".into(),
        json!(realm.back_url(Some(&session.request.client_id))),
    );
    page.entry("error").or_insert(Value::Null);
    // Pages that run a ceremony in the browser (passkeys) load the theme's script, allowed by
    // a nonce of this response only.
    let script_nonce = page
        .get("uses_script")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .then(monban_oidc::random_token);
    page.insert("script_nonce".into(), json!(script_nonce));
    let model = pages::frame(
        realm,
        pages::language_links(state, realm, locale, &action),
        Value::Object(page),
    );
    let mut response = pages::render(
        state,
        realm,
        locale,
        view.template,
        status,
        &model,
        script_nonce.as_deref(),
    );
    remember_language_switch(state, req, &mut response);
    response
}

/// Runs a flow-engine call off the executor with everything a step may use.
async fn run_engine<T, F>(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    realm: &RealmConfig,
    session: &AuthSession,
    work: F,
) -> Result<T, HttpResponse>
where
    T: Send + 'static,
    F: FnOnce(&Engine<'_>, &FlowStore<'_>) -> Result<T, FlowError> + Send + 'static,
{
    let worker = state.clone();
    let realm_name = realm.name.clone();
    let ip = params::peer_ip(req);
    let locale = pages::locale_for(req, realm, &session.request.ui_locales);
    let login_id = session.id.clone();
    let outcome = web::block(move || {
        let realm = worker.realm(&realm_name).expect("realm exists");
        let engine = Engine {
            steps: &worker.steps,
            ctx: StepContext {
                store: &worker.store,
                hasher: &worker.hasher,
                clock: worker.clock.as_ref(),
                realm,
                provider: &worker.provider,
                mailer: worker.mailer.as_ref(),
                locale,
                ip: ip.as_deref(),
                login_id: &login_id,
                secrets: &worker.secrets,
            },
        };
        work(
            &engine,
            &FlowStore {
                store: &worker.store,
            },
        )
    })
    .await;
    match outcome {
        Ok(Ok(value)) => Ok(value),
        other => {
            log_failure("running the login flow", other);
            Err(pages::server_error())
        }
    }
}

/// Where the login goes after the engine moved it: a page, the client, or a refusal.
async fn follow(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    realm: &RealmConfig,
    session: AuthSession,
    progress: Progress,
    status: StatusCode,
) -> HttpResponse {
    match progress {
        Progress::Show(view) => render_step(state, req, realm, &session, view, status),
        // Post/redirect/get: the next page is a GET of the login's address, so reloading it
        // (as the member does after verifying the address on another device) asks again
        // instead of posting the last form once more.
        Progress::Moved => headers::secure(&mut HttpResponse::SeeOther())
            .insert_header((
                header::LOCATION,
                login_url(&realm.name, &session.id, &session.request.client_id),
            ))
            .finish(),
        Progress::Complete(member) => complete_login(state, req, realm, session, member).await,
        Progress::Denied => deny_login(state, req, realm, session).await,
    }
}

/// The current page of the login. A step that stopped applying meanwhile (the address was
/// verified from another device) is passed over, which may finish the login.
async fn show_current(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    realm: &RealmConfig,
    session: AuthSession,
    error: Option<&'static str>,
    status: StatusCode,
) -> HttpResponse {
    let mut working = session.clone();
    let moved = run_engine(state, req, realm, &session, move |engine, flows| {
        let progress = engine.current(flows, &mut working)?;
        Ok((progress, working))
    })
    .await;
    match moved {
        Ok((Progress::Show(mut view), session)) => {
            if let (Some(error), Value::Object(fields)) = (error, &mut view.model) {
                fields.insert("error".into(), json!(error));
            }
            render_step(state, req, realm, &session, view, status)
        }
        Ok((progress, session)) => follow(state, req, realm, session, progress, status).await,
        Err(response) => response,
    }
}

fn url_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A click on the language switch (`kc_locale`) is remembered in a cookie.
fn remember_language_switch(state: &AppState, req: &HttpRequest, response: &mut HttpResponse) {
    let query = params::query(req).unwrap_or_default();
    if let Some(code) =
        params::first(&query, "kc_locale").filter(|c| monban_ui::SUPPORTED_LOCALES.contains(c))
    {
        let cookie = cookies::build(
            cookies::LOCALE,
            code.to_string(),
            "/".into(),
            state.secure_cookies,
            Some(365 * 24 * 3600),
        );
        let _ = response.add_cookie(&cookie);
    }
}

pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(realm) = state.realm(&path) else {
        return pages::not_found(req, state).await;
    };
    let address = address(&req);
    let session = match load_session(&state, &req, realm, address.session_id).await {
        Ok(Some(session)) => session,
        Ok(None) => return gone(&state, &req, realm, address.client_id.as_deref()).await,
        Err(response) => return response,
    };
    show_current(&state, &req, realm, session, None, StatusCode::OK).await
}

pub async fn submit(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(realm) = state.realm(&path) else {
        return pages::not_found(req, state).await;
    };
    let address = address(&req);
    if let Err(refusal) = within_rate_limit(&state, &req, realm, &address).await {
        return refusal;
    }
    let session = match load_session(&state, &req, realm, address.session_id).await {
        Ok(Some(session)) => session,
        Ok(None) => return gone(&state, &req, realm, address.client_id.as_deref()).await,
        Err(response) => return response,
    };
    let form = params::form(&req, &body).unwrap_or_default();
    let csrf_ok = params::first(&form, "csrf_token")
        .is_some_and(|t| bool::from(t.as_bytes().ct_eq(session.csrf_token.as_bytes())));
    if !csrf_ok {
        // Nothing submitted is looked at: the current page again, with the warning.
        return show_current(
            &state,
            &req,
            realm,
            session,
            Some("error_csrf"),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let mut working = session.clone();
    let progress = run_engine(&state, &req, realm, &session, move |engine, flows| {
        let progress = engine.submit(flows, &mut working, &Form(&form))?;
        Ok((progress, working))
    })
    .await;
    match progress {
        Ok((progress, session)) => {
            follow(&state, &req, realm, session, progress, StatusCode::OK).await
        }
        Err(response) => response,
    }
}

/// Past `[rate_limits] login_posts_per_minute` from the client's network, the post is not
/// looked at: a 429 page says to wait, for as long as `Retry-After` says.
async fn within_rate_limit(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    realm: &RealmConfig,
    address: &LoginAddress,
) -> Result<(), HttpResponse> {
    let worker = state.clone();
    let client = client_address::of(req);
    let counted = web::block(move || rate_limit::count_login_post(&worker, client)).await;
    let retry_after = match counted {
        Ok(Ok(Verdict::Allowed)) => return Ok(()),
        Ok(Ok(Verdict::Paused { retry_after })) => retry_after,
        other => {
            log_failure("counting a rate limit", other);
            return Err(pages::server_error());
        }
    };
    let mut refusal = pages::message(
        state,
        req,
        realm,
        StatusCode::TOO_MANY_REQUESTS,
        MessagePage {
            title_key: "rate_limited_title",
            message_key: "rate_limited",
            is_error: true,
            back_url: realm.back_url(address.client_id.as_deref()),
        },
    );
    refusal
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
    Err(refusal)
}

/// Every step is done: open the SSO session (replacing this browser's previous one) and
/// return to the client with a code.
async fn complete_login(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    realm: &RealmConfig,
    session: AuthSession,
    member: Member,
) -> HttpResponse {
    let previous_cookie = req.cookie(cookies::SESSION).map(|c| c.value().to_string());
    let worker = state.clone();
    let realm_name = realm.name.clone();
    let ip = params::peer_ip(req);
    let opened = web::block(move || -> Result<_, FlowError> {
        let realm = worker.realm(&realm_name).expect("realm exists");
        if let Some(previous) = previous_cookie {
            if let Ok(Some(old)) = worker.provider.sso_session_from_cookie(realm, &previous) {
                worker.provider.log_out(realm, &old.id, ip.as_deref())?;
            }
        }
        let cookie = worker.provider.start_sso_session(
            realm,
            &NewSsoSession {
                user_pk: &member.user_pk,
                // Level 2 once a second factor was proven (Keycloak's default LoA mapping).
                acr: if member.amr.iter().any(|m| m == "mfa") {
                    "2"
                } else {
                    "1"
                },
                amr: &member.amr,
                remember_me: member.remember_me,
            },
        )?;
        FlowStore {
            store: &worker.store,
        }
        .finish(&session)?;
        worker.store.record_audit_event(
            &AuditEvent {
                realm: &realm.name,
                kind: "LOGIN",
                user_pk: Some(&member.user_pk),
                client_id: Some(&session.request.client_id),
                ip: ip.as_deref(),
                detail: None,
            },
            worker.clock.now(),
        )?;
        Ok((cookie, session))
    })
    .await;
    let (sso, session) = match opened {
        Ok(Ok(opened)) => opened,
        other => {
            log_failure("opening the SSO session", other);
            return pages::server_error();
        }
    };
    let sso_cookie = cookies::build(
        cookies::SESSION,
        sso.value.clone(),
        cookies::realm_path(&realm.name),
        state.secure_cookies,
        sso.max_age,
    );
    let mut response =
        issue_code_and_deliver(state, req, realm, session.request, sso.session).await;
    let _ = response.add_cookie(&sso_cookie);
    response
}

/// The member declined a step: the login ends and the client hears `access_denied`.
async fn deny_login(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    realm: &RealmConfig,
    session: AuthSession,
) -> HttpResponse {
    let worker = state.clone();
    let finishing = session.clone();
    let finished = web::block(move || {
        FlowStore {
            store: &worker.store,
        }
        .finish(&finishing)
    })
    .await;
    if !matches!(finished, Ok(Ok(()))) {
        log_failure("ending a declined login", finished);
        return pages::server_error();
    }
    let error = ErrorRedirect {
        redirect_uri: session.request.redirect_uri.clone(),
        response_mode: session.request.response_mode,
        error: "access_denied",
        description: "the member declined".into(),
        state: session.request.state.clone(),
    };
    deliver(
        state,
        req,
        realm,
        &state.provider.error_response(&realm.name, &error),
    )
}

/// "パスワードを忘れた方はこちら" / "ユーザIDを忘れた方はこちら": self-service recovery is not
/// built yet, so members are told whom to contact instead of meeting a dead link.
pub async fn recovery(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(realm) = state.realm(&path) else {
        return pages::not_found(req, state).await;
    };
    let client_id = address(&req).client_id;
    pages::message(
        &state,
        &req,
        realm,
        StatusCode::OK,
        MessagePage {
            title_key: "recovery_title",
            message_key: "recovery_contact",
            is_error: false,
            back_url: realm.back_url(client_id.as_deref()),
        },
    )
}
