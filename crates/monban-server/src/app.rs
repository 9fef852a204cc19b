//! Start-up: open the database, make sure every realm has keys, load the themes, serve.

use crate::routes;
use crate::settings::Settings;
use actix_web::{web, App, HttpServer};
use monban_core::config::{RateLimits, RealmConfig};
use monban_core::password_hash::PasswordHasher;
use monban_core::{Clock, SystemClock};
use monban_flow::Steps;
use monban_mail::Mailer;
use monban_oidc::{KeyRing, Provider};
use monban_store::sealed::SecretBox;
use monban_store::Store;
use monban_ui::Ui;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// What every handler shares.
pub struct AppState {
    pub provider: Provider,
    pub store: Store,
    pub hasher: PasswordHasher,
    /// The login steps, by name.
    pub steps: Steps,
    pub ui: Ui,
    /// `None` without `[smtp]` (or `mail_drop_dir`) in monban.toml.
    pub mailer: Option<Mailer>,
    pub realms: BTreeMap<String, RealmConfig>,
    pub clock: Arc<dyn Clock>,
    /// The at-rest key (OTP secrets, login step state).
    pub secrets: Arc<SecretBox>,
    /// Cookies get `Secure` when Monban is reached over https.
    pub secure_cookies: bool,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub rate_limits: RateLimits,
}

impl AppState {
    pub fn realm(&self, name: &str) -> Option<&RealmConfig> {
        self.realms.get(name)
    }
}

/// A server that is listening.
pub struct RunningServer {
    pub address: SocketAddr,
    pub server: actix_web::dev::Server,
}

/// Builds the shared state from settings: database (migrated), keys, themes.
pub fn build_state(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let sealer = Arc::new(
        settings
            .encryption_key()
            .map_err(|report| anyhow::anyhow!("{report}"))?,
    );
    let pool_size = if settings.server.database_url.starts_with("sqlite:") {
        8
    } else {
        16
    };
    let store = Store::open(&settings.server.database_url, pool_size)?;
    let keys = KeyRing::new(store.clone(), sealer.clone(), clock.clone());
    for realm in settings.realms.keys() {
        keys.ensure_keys(realm, clock.now())?;
    }
    let ui = Ui::load(&settings.server.themes_dir)?;
    for realm in settings.realms.values() {
        if !ui.has_theme(&realm.theme) {
            anyhow::bail!(
                "realm {}: theme \"{}\" is not installed in {}",
                realm.name,
                realm.theme,
                settings.server.themes_dir.display()
            );
        }
    }
    let hasher = PasswordHasher::new(&settings.server.password_hashing)?;
    let mailer = build_mailer(settings)?;
    let steps = Steps::builtin();
    crate::flow_check::check_flows(settings, &steps)?;
    publish_initial_terms(settings, &store, clock.now())?;
    Ok(AppState {
        provider: Provider {
            store: store.clone(),
            keys,
            clock: clock.clone(),
            public_url: settings.server.public_url.clone(),
            remote_keys: Default::default(),
        },
        store,
        hasher,
        steps,
        ui,
        mailer,
        realms: settings.realms.clone(),
        clock,
        secrets: sealer,
        secure_cookies: settings.server.is_https(),
        trusted_proxies: settings.server.trusted_proxy_networks(),
        rate_limits: settings.server.rate_limits.clone(),
    })
}

/// The mailer `monban.toml` asks for, if any.
fn build_mailer(settings: &Settings) -> anyhow::Result<Option<Mailer>> {
    let themes = &settings.server.themes_dir;
    let mailer = if let Some(smtp) = &settings.server.smtp {
        Some(Mailer::new(smtp, themes)?)
    } else if let Some(directory) = &settings.server.mail_drop_dir {
        tracing::warn!(
            directory = %directory.display(),
            "mails are written to files, not sent (mail_drop_dir): for demos and development only"
        );
        Some(Mailer::to_directory(directory, "monban@localhost", themes)?)
    } else {
        None
    };
    Ok(mailer)
}

/// A realm with `[terms]` and nothing published yet publishes its file as version 1. Later
/// versions come from `monban terms publish`; a file that differs from the version in force
/// is pointed out, not published behind the admin's back.
fn publish_initial_terms(settings: &Settings, store: &Store, now: i64) -> anyhow::Result<()> {
    for realm in settings.realms.values() {
        let Some(terms) = &realm.terms else {
            continue;
        };
        match store.current_terms(&realm.name)? {
            None => {
                let published = store.publish_terms(&realm.name, &terms.text, now)?;
                store.record_audit_event(
                    &monban_store::AuditEvent {
                        realm: &realm.name,
                        kind: "ADMIN_TERMS_PUBLISHED",
                        detail: Some(format!("version={} file={}", published.version, terms.file)),
                        ..Default::default()
                    },
                    now,
                )?;
                tracing::info!(realm = %realm.name, version = published.version, "terms of use published");
            }
            Some(current) if current.body != terms.text => tracing::warn!(
                realm = %realm.name,
                version = current.version,
                file = %terms.file,
                "the terms file differs from the version in force; publish it with `monban terms publish`"
            ),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Binds and starts serving; the returned server runs until stopped.
pub fn start(settings: &Settings) -> anyhow::Result<RunningServer> {
    start_with_clock(settings, Arc::new(SystemClock))
}

pub fn start_with_clock(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<RunningServer> {
    let state = web::Data::new(build_state(settings, clock)?);
    spawn_housekeeping(state.clone());
    crate::backchannel::spawn(state.clone());
    let listener = std::net::TcpListener::bind(&settings.server.listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.server.listen))?;
    let address = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .configure(routes::configure)
    })
    .listen(listener)?
    .run();
    Ok(RunningServer { address, server })
}

/// Removes what has expired (logins, logout confirmations, retired keys…), every few minutes.
fn spawn_housekeeping(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(std::time::Duration::from_secs(300));
        loop {
            interval.tick().await;
            let state = state.clone();
            let purged = web::block(move || {
                let now = state.clock.now();
                state.store.delete_retired_keys(now)?;
                state.store.purge_expired(now)
            })
            .await;
            if let Ok(Err(error)) = purged {
                tracing::warn!(%error, "housekeeping failed");
            }
        }
    });
}
