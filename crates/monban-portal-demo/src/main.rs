//! `monban-portal-demo`: a small relying party that plays a health society's member portal
//! ("デモ健保ポータル"). It signs members in through Monban with the authorization-code flow
//! (PKCE S256, `state`, `nonce`, client_secret_basic), shows the ID-token claims and userinfo,
//! and signs out with RP-initiated logout. Used by the docs and the end-to-end tests.
//!
//! Monban does not need to be up when the portal starts: discovery happens on the first login.

mod config;
mod oidc;
mod pages;
mod routes;
mod session;

use actix_web::middleware::DefaultHeaders;
use actix_web::{web, App, HttpServer};
use anyhow::Context as _;
use clap::Parser;

use crate::config::Config;
use crate::routes::AppState;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let state = web::Data::new(AppState {
        rp: oidc::RelyingParty::new(&config)?,
        sessions: session::SessionStore::new(),
        pages: pages::Pages::new()?,
        secure_cookies: config.secure_cookies(),
    });

    eprintln!(
        "monban-portal-demo listening on {} (public URL {}, issuer {}, client {})",
        config.listen,
        config.base_url(),
        config.issuer,
        config.client_id
    );
    HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(
                DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("X-Frame-Options", "DENY"))
                    // Keeps the authorization code in /callback's URL out of Referer headers.
                    .add(("Referrer-Policy", "no-referrer"))
                    .add((
                        "Content-Security-Policy",
                        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
                    )),
            )
            .configure(routes::configure)
    })
    .bind(&config.listen)
    .with_context(|| format!("cannot listen on {}", config.listen))?
    .run()
    .await
    .context("server error")
}
