//! URL layout, on Keycloak's paths so a portal configured for Keycloak only changes the host.

mod client_api;
mod email_link;
mod login;
mod logout;
mod oidc;
mod pages;
mod resources;

use crate::http::params::MAX_FORM_BYTES;
use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_FORM_BYTES))
        .service(
            web::scope("/realms/{realm}")
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(oidc::discovery),
                )
                .route("/protocol/openid-connect/certs", web::get().to(oidc::certs))
                .route(
                    "/protocol/openid-connect/auth",
                    web::get().to(oidc::authorize),
                )
                .route(
                    "/protocol/openid-connect/auth",
                    web::post().to(oidc::authorize_post),
                )
                .route(
                    "/protocol/openid-connect/token",
                    web::post().to(client_api::token),
                )
                .route(
                    "/protocol/openid-connect/token/introspect",
                    web::post().to(client_api::introspect),
                )
                .route(
                    "/protocol/openid-connect/revoke",
                    web::post().to(client_api::revoke),
                )
                .route(
                    "/protocol/openid-connect/logout",
                    web::get().to(logout::start),
                )
                .route(
                    "/protocol/openid-connect/logout",
                    web::post().to(logout::start_post),
                )
                .route(
                    "/protocol/openid-connect/logout/logout-confirm",
                    web::post().to(logout::confirm),
                )
                .route(
                    "/protocol/openid-connect/userinfo",
                    web::get().to(oidc::userinfo),
                )
                .route(
                    "/protocol/openid-connect/userinfo",
                    web::post().to(oidc::userinfo),
                )
                .route("/login-actions/authenticate", web::get().to(login::show))
                .route("/login-actions/authenticate", web::post().to(login::submit))
                .route(
                    monban_flow::VERIFY_EMAIL_PATH,
                    web::get().to(email_link::show),
                )
                .route(
                    monban_flow::VERIFY_EMAIL_PATH,
                    web::post().to(email_link::confirm),
                )
                .route(
                    "/login-actions/forgot-password",
                    web::get().to(login::recovery),
                )
                .route(
                    "/login-actions/forgot-user-id",
                    web::get().to(login::recovery),
                ),
        )
        .route(
            "/resources/{theme}/{path:.*}",
            web::get().to(resources::serve),
        )
        .route("/health", web::get().to(resources::health))
        .route("/health", web::head().to(resources::health))
        .default_service(web::to(pages::not_found));
}
