//! The login form: shows it, checks what the member typed, and on success opens the SSO
//! session and returns to the client.

use super::oidc::{current_sso_session, issue_code_and_deliver, log_failure, login_url};
use super::pages::{self, MessagePage};
use crate::app::AppState;
use crate::http::{cookies, params};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use monban_core::config::RealmConfig;
use monban_flow::{
    AuthSession, AuthSessionState, FlowError, FlowStore, PasswordStep, PasswordVerdict,
};
use monban_oidc::NewSsoSession;
use monban_store::AuditEvent;
use serde::Serialize;
use subtle::ConstantTimeEq;

#[derive(Serialize)]
struct LoginPage {
    action: String,
    csrf_token: String,
    user_id: String,
    remember_me: bool,
    error: Option<&'static str>,
    forgot_password_url: String,
    forgot_user_id_url: String,
    back_url: Option<String>,
}

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

/// What the member typed, given back to them when the form is shown again.
struct Typed {
    user_id: String,
    remember_me: bool,
}

fn render_login(
    state: &AppState,
    req: &HttpRequest,
    realm: &RealmConfig,
    session: &AuthSession,
    typed: Typed,
    error: Option<(&'static str, StatusCode)>,
) -> HttpResponse {
    let Typed {
        user_id,
        remember_me,
    } = typed;
    let (error, status) = match error {
        Some((key, status)) => (Some(key), status),
        None => (None, StatusCode::OK),
    };
    let action = login_url(&realm.name, &session.id, &session.request.client_id);
    let locale = pages::locale_for(req, realm, &session.request.ui_locales);
    let recovery = |page: &str| {
        format!(
            "/realms/{}/login-actions/{page}?client_id={}",
            realm.name,
            url_encode(&session.request.client_id)
        )
    };
    let page = LoginPage {
        csrf_token: session.csrf_token.clone(),
        user_id,
        remember_me,
        error,
        forgot_password_url: recovery("forgot-password"),
        forgot_user_id_url: recovery("forgot-user-id"),
        back_url: realm.back_url(Some(&session.request.client_id)),
        action: action.clone(),
    };
    let model = pages::frame(
        realm,
        pages::language_links(state, realm, locale, &action),
        page,
    );
    let mut response = pages::render(state, realm, locale, "login", status, &model, None);
    remember_language_switch(state, req, &mut response);
    response
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
    let hint = session.request.login_hint.clone().unwrap_or_default();
    render_login(
        &state,
        &req,
        realm,
        &session,
        Typed {
            user_id: hint,
            remember_me: false,
        },
        None,
    )
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
    let mut session = match load_session(&state, &req, realm, address.session_id).await {
        Ok(Some(session)) => session,
        Ok(None) => return gone(&state, &req, realm, address.client_id.as_deref()).await,
        Err(response) => return response,
    };
    let form = params::form(&req, &body).unwrap_or_default();
    let user_id = params::first(&form, "username")
        .unwrap_or("")
        .chars()
        .take(255)
        .collect::<String>();
    let password = params::first(&form, "password").unwrap_or("").to_string();
    let remember_me = params::first(&form, "rememberMe").is_some();
    let csrf_ok = params::first(&form, "csrf_token")
        .is_some_and(|t| bool::from(t.as_bytes().ct_eq(session.csrf_token.as_bytes())));
    if !csrf_ok {
        return render_login(
            &state,
            &req,
            realm,
            &session,
            Typed {
                user_id,
                remember_me,
            },
            Some(("error_csrf", StatusCode::FORBIDDEN)),
        );
    }
    if !matches!(session.state, AuthSessionState::AwaitingPassword) {
        return expired(&state, &req, realm, Some(&session.request.client_id));
    }
    // An empty field is a typing slip, not a guess: answer as for a wrong password, without
    // counting it toward the lockout.
    if user_id.trim().is_empty() || password.is_empty() {
        return render_login(
            &state,
            &req,
            realm,
            &session,
            Typed {
                user_id,
                remember_me,
            },
            Some(("invalid_credentials", StatusCode::OK)),
        );
    }

    let worker = state.clone();
    let realm_name = realm.name.clone();
    let typed_user_id = user_id.clone();
    let ip = params::peer_ip(&req);
    let verdict = web::block(move || {
        let realm = worker.realm(&realm_name).expect("realm exists");
        let step = PasswordStep {
            store: &worker.store,
            hasher: &worker.hasher,
            clock: worker.clock.as_ref(),
        };
        step.check(realm, &typed_user_id, &password, ip.as_deref())
    })
    .await;
    let user = match verdict {
        Ok(Ok(PasswordVerdict::Accepted(user))) => user,
        Ok(Ok(PasswordVerdict::InvalidCredentials)) => {
            return render_login(
                &state,
                &req,
                realm,
                &session,
                Typed {
                    user_id,
                    remember_me,
                },
                Some(("invalid_credentials", StatusCode::OK)),
            )
        }
        Ok(Ok(PasswordVerdict::Locked)) => {
            return render_login(
                &state,
                &req,
                realm,
                &session,
                Typed {
                    user_id,
                    remember_me,
                },
                Some(("account_locked", StatusCode::OK)),
            )
        }
        other => {
            log_failure("checking a password", other);
            return pages::server_error();
        }
    };

    // The only step of the foundation's flow is done: open the SSO session and return.
    let previous_cookie = req.cookie(cookies::SESSION).map(|c| c.value().to_string());
    let worker = state.clone();
    let realm_name = realm.name.clone();
    let ip = params::peer_ip(&req);
    let opened = web::block(move || -> Result<_, FlowError> {
        let realm = worker.realm(&realm_name).expect("realm exists");
        let amr = vec!["pwd".to_string()];
        let flows = FlowStore {
            store: &worker.store,
        };
        flows.save_state(
            &mut session,
            AuthSessionState::Authenticated {
                user_pk: user.id.clone(),
                amr: amr.clone(),
                remember_me,
            },
        )?;
        // A new login in this browser replaces the session it had.
        if let Some(previous) = previous_cookie {
            if let Ok(Some(old)) = worker.provider.sso_session_from_cookie(realm, &previous) {
                worker.provider.log_out(realm, &old.id, ip.as_deref())?;
            }
        }
        let cookie = worker.provider.start_sso_session(
            realm,
            &NewSsoSession {
                user_pk: &user.id,
                acr: "1",
                amr: &amr,
                remember_me,
            },
        )?;
        flows.finish(&session)?;
        worker.store.record_audit_event(
            &AuditEvent {
                realm: &realm.name,
                kind: "LOGIN",
                user_pk: Some(&user.id),
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
        issue_code_and_deliver(&state, &req, realm, session.request, sso.session).await;
    let _ = response.add_cookie(&sso_cookie);
    response
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
