//! The endpoints clients call directly with their credentials: token, introspection,
//! revocation. Each answers in JSON, with RFC 6749 §5.2 errors and `no-store`.

use super::oidc::{json_response, unknown_realm};
use crate::app::AppState;
use crate::http::params;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use monban_core::config::RealmConfig;
use monban_oidc::{Provider, TokenError, TokenRequest};
use serde_json::{json, Value};

pub async fn token(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    call(
        req,
        &path,
        body,
        state,
        "token",
        |provider, realm, request| {
            provider
                .token(realm, request)
                .map(|tokens| Some(serde_json::to_value(&tokens).unwrap_or_default()))
        },
    )
    .await
}

pub async fn introspect(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    call(
        req,
        &path,
        body,
        state,
        "introspection",
        |provider, realm, request| provider.introspect(realm, request).map(Some),
    )
    .await
}

pub async fn revoke(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    call(
        req,
        &path,
        body,
        state,
        "revocation",
        |provider, realm, request| provider.revoke(realm, request).map(|()| None),
    )
    .await
}

/// Parses the form, runs `operation` off the executor, and answers.
async fn call<F>(
    req: HttpRequest,
    realm_name: &str,
    body: web::Bytes,
    state: web::Data<AppState>,
    what: &'static str,
    operation: F,
) -> HttpResponse
where
    F: FnOnce(&Provider, &RealmConfig, &TokenRequest<'_>) -> Result<Option<Value>, TokenError>
        + Send
        + 'static,
{
    if state.realm(realm_name).is_none() {
        return unknown_realm();
    }
    let Some(params) = params::form(&req, &body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request", "error_description": "send an application/x-www-form-urlencoded body"}),
        );
    };
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let endpoint = format!("{}{}", state.provider.public_url, req.path());
    let worker = state.clone();
    let realm_name = realm_name.to_string();
    let outcome = web::block(move || {
        let realm = worker.realm(&realm_name).expect("realm exists");
        let request = TokenRequest {
            params: &params,
            authorization: authorization.as_deref(),
            endpoint: &endpoint,
        };
        operation(&worker.provider, realm, &request)
    })
    .await;
    match outcome {
        Ok(Ok(Some(body))) => json_response(StatusCode::OK, &body),
        Ok(Ok(None)) => crate::http::headers::secure(&mut HttpResponse::Ok()).finish(),
        Ok(Err(error)) => {
            if error.status >= 500 {
                tracing::error!(
                    endpoint = what,
                    error = error.cause.as_deref().unwrap_or(&error.description),
                    "client endpoint failed"
                );
            }
            let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = json_response(status, &error.body());
            if let Some(challenge) = error
                .www_authenticate
                .as_deref()
                .and_then(|c| c.parse().ok())
            {
                response
                    .headers_mut()
                    .insert(actix_web::http::header::WWW_AUTHENTICATE, challenge);
            }
            response
        }
        Err(error) => {
            tracing::error!(endpoint = what, %error, "worker failed");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": "server_error"}),
            )
        }
    }
}
