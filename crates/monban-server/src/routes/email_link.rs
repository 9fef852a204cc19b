//! The "メールアドレスの確認" link of the verification mail. Opening it (GET) only shows a
//! button: mail scanners fetch links on their own, and must not spend a single-use link. The
//! button (POST) verifies the address. The link's key is the form's only secret; whoever can
//! submit it received the mail, so no separate CSRF token is needed here.

use super::pages::{self, MessagePage};
use crate::app::AppState;
use crate::http::params;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use monban_core::config::RealmConfig;
use monban_store::sealed::digest;
use monban_store::{AuditEvent, EmailVerification};
use serde_json::json;

/// Keys are 43 characters of base64url; anything else is not worth a database lookup.
fn plausible_key(key: &str) -> bool {
    (20..=128).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn invalid(state: &AppState, req: &HttpRequest, realm: &RealmConfig) -> HttpResponse {
    pages::message(
        state,
        req,
        realm,
        StatusCode::BAD_REQUEST,
        MessagePage {
            title_key: "verify_email_title",
            message_key: "verify_email_link_invalid",
            is_error: true,
            back_url: None,
        },
    )
}

pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(realm) = state.realm(&path) else {
        return pages::not_found(req, state).await;
    };
    let query = params::query(&req).unwrap_or_default();
    let Some(key) = params::first(&query, "key").filter(|k| plausible_key(k)) else {
        return invalid(&state, &req, realm);
    };
    let locale = pages::locale_for(&req, realm, &[]);
    let model = pages::frame(
        realm,
        Vec::new(),
        json!({ "key": key, "action": req.path() }),
    );
    pages::render(
        &state,
        realm,
        locale,
        "verify_email_link",
        StatusCode::OK,
        &model,
        None,
    )
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
    let Some(key) = params::first(&form, "key")
        .filter(|k| plausible_key(k))
        .map(str::to_string)
    else {
        return invalid(&state, &req, realm);
    };
    let worker = state.clone();
    let realm_name = realm.name.clone();
    let ip = params::peer_ip(&req);
    let redeemed = web::block(move || {
        let now = worker.clock.now();
        let outcome = worker.store.redeem_email_verification(&digest(&key), now)?;
        if let EmailVerification::Verified { user_pk } = &outcome {
            worker.store.record_audit_event(
                &AuditEvent {
                    realm: &realm_name,
                    kind: "VERIFY_EMAIL",
                    user_pk: Some(user_pk),
                    client_id: None,
                    ip: ip.as_deref(),
                    detail: None,
                },
                now,
            )?;
        }
        Ok::<_, monban_store::StoreError>(outcome)
    })
    .await;
    match redeemed {
        Ok(Ok(EmailVerification::Verified { .. })) => pages::message(
            &state,
            &req,
            realm,
            StatusCode::OK,
            MessagePage {
                title_key: "verify_email_title",
                message_key: "verify_email_done",
                is_error: false,
                back_url: None,
            },
        ),
        Ok(Ok(EmailVerification::Invalid)) => invalid(&state, &req, realm),
        other => {
            super::oidc::log_failure("verifying an address", other);
            pages::server_error()
        }
    }
}
