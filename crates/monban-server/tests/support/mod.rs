//! Boots the real server on a free port, on SQLite or PostgreSQL, with a realm and members of
//! the test's own, and drives its login pages like a browser would (cookies, CSRF, redirects).

#![allow(dead_code)]

mod otp_app;
mod set_up;
// Not every test file drives the set-up pages or the OTP app.
#[allow(unused_imports)]
pub use otp_app::*;
#[allow(unused_imports)]
pub use set_up::*;

use monban_core::clock::ManualClock;
use monban_core::config::{Argon2Settings, ServerOverrides};
use monban_core::password_hash::PasswordHasher;
use monban_core::{Clock, SystemClock};
use monban_server::app::start_with_clock;
use monban_server::Settings;
use monban_store::{NewUser, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const PASSWORD: &str = "Init-pass1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of the test's own. PostgreSQL gets a fresh database on the local server; where
/// none answers, the test is skipped loudly — except in CI, where that is a failure.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// (admin URL, database name) of a PostgreSQL database to drop afterwards.
    postgres: Option<(String, String)>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        use diesel::{Connection, PgConnection, RunQueryDsl};
        if let Some((admin_url, name)) = &self.postgres {
            // FORCE: the server under test may still hold pooled connections.
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

impl TestDatabase {
    pub fn new(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("monban.db").display());
                Some(TestDatabase {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                })
            }
            Backend::Postgres => {
                use diesel::{Connection, PgConnection, RunQueryDsl};
                let admin_url = std::env::var("MONBAN_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| POSTGRES_ADMIN_URL.into());
                let mut admin = match PgConnection::establish(&admin_url) {
                    Ok(conn) => conn,
                    Err(error) => {
                        if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
                            panic!("PostgreSQL is required in CI but {admin_url} does not answer: {error}");
                        }
                        eprintln!("\n*** SKIPPED: PostgreSQL test — no server at {admin_url} ({error}) ***\n");
                        return None;
                    }
                };
                let name = format!("monban_test_{}", uuid::Uuid::new_v4().simple());
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .unwrap();
                let base = admin_url.rsplit_once('/').unwrap().0;
                Some(TestDatabase {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    postgres: Some((admin_url.clone(), name)),
                })
            }
        }
    }
}

/// Realm file of the tests: two confidential clients, one public, one ES256.
pub fn realm_toml(redirect: &str) -> String {
    format!(
        r#"
name = "test"
display_title = "テスト健保加入者ページ"
default_locale = "ja"

[lockout]
max_failures = 3
wait_increment_seconds = 60
max_wait_seconds = 600

[[clients]]
client_id = "portal"
secret = "portal-secret-0123456789"
redirect_uris = ["{redirect}"]
post_logout_redirect_uris = ["{redirect}"]
base_url = "https://portal.example/"

[[clients]]
client_id = "other"
secret = "other-secret-0123456789"
redirect_uris = ["{redirect}"]
id_token_signed_response_alg = "ES256"

[[clients]]
client_id = "spa"
public = true
redirect_uris = ["{redirect}"]
"#
    )
}

pub const REDIRECT: &str = "https://portal.example/callback";

pub struct TestServer {
    pub base: String,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub config_dir: PathBuf,
    handle: actix_web::dev::ServerHandle,
    _config: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server on `database`; call inside an actix runtime (`#[actix_web::test]`).
    pub async fn start(database: &TestDatabase) -> TestServer {
        Self::start_with(database, &realm_toml(REDIRECT)).await
    }

    /// Starts a server with a realm file of the test's own.
    pub async fn start_with(database: &TestDatabase, realm: &str) -> TestServer {
        let config = tempfile::tempdir().unwrap();
        write_config(config.path(), realm);
        Self::start_in(config, &database.url).await
    }

    /// A server whose `monban.toml` ends with `server_extra` (tables, e.g. `[smtp]`) and
    /// whose configuration directory holds `files` (path relative to it, text) too.
    pub async fn start_configured(
        database: &TestDatabase,
        realm: &str,
        server_extra: &str,
        files: &[(&str, &str)],
    ) -> TestServer {
        let config = tempfile::tempdir().unwrap();
        write_config(config.path(), realm);
        let monban_toml = config.path().join("monban.toml");
        let text = std::fs::read_to_string(&monban_toml).unwrap();
        // After the last table: `server_extra` brings tables of its own.
        std::fs::write(&monban_toml, format!("{text}\n{server_extra}\n")).unwrap();
        for (path, content) in files {
            let path = config.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        Self::start_in(config, &database.url).await
    }

    /// Stops this instance (as a restart or a crash would); its configuration stays for
    /// [`TestServer::start_beside`].
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }

    /// A second instance with the first one's configuration (and so its encryption key),
    /// on the same database: what a load balancer would have behind it.
    pub async fn start_beside(first: &TestServer, database: &TestDatabase) -> TestServer {
        Self::boot(first.config_dir.clone(), None, &database.url).await
    }

    pub async fn start_in(config: tempfile::TempDir, database_url: &str) -> TestServer {
        let dir = config.path().to_path_buf();
        Self::boot(dir, Some(config), database_url).await
    }

    async fn boot(
        config_dir: PathBuf,
        config: Option<tempfile::TempDir>,
        database_url: &str,
    ) -> TestServer {
        let overrides = ServerOverrides {
            database_url: Some(database_url.to_string()),
            listen: Some("127.0.0.1:0".into()),
            public_url: None,
        };
        let mut settings = Settings::load_with(&config_dir, &overrides, &|_| None)
            .unwrap_or_else(|r| panic!("{r}"));
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        // The public URL must name the port, which is only known after binding: bind once to
        // learn a free port, then start on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        settings.server.listen = format!("127.0.0.1:{port}");
        settings.server.public_url = format!("http://127.0.0.1:{port}");
        let running = start_with_clock(&settings, clock.clone()).unwrap();
        let handle = running.server.handle();
        actix_web::rt::spawn(running.server);
        let store = Store::open(database_url, 2).unwrap();
        TestServer {
            base: settings.server.public_url.clone(),
            store,
            clock,
            config_dir,
            handle,
            _config: config,
        }
    }

    pub fn clock_now(&self) -> i64 {
        self.clock.now()
    }

    pub fn issuer(&self) -> String {
        format!("{}/realms/test", self.base)
    }

    /// Adds a member with [`PASSWORD`] and an address, past the first login, who chose the
    /// second factor `method`; returns their internal id.
    pub fn add_member_who_chose(&self, user_id: &str, method: &str) -> String {
        self.add_member(user_id, "健保 太郎", Some(&format!("{user_id}@kenpo.test")));
        let user = self
            .store
            .find_user_by_user_id("test", user_id)
            .unwrap()
            .unwrap();
        let now = self.clock.now();
        self.store
            .set_user_id_and_method(&user.id, user_id, Some(method), now)
            .unwrap()
            .unwrap();
        self.store.complete_first_login(&user.id, now).unwrap();
        user.id
    }

    /// Adds a member with [`PASSWORD`].
    pub fn add_member(&self, user_id: &str, display_name: &str, email: Option<&str>) {
        let hasher = cheap_hasher();
        let member = NewUser {
            user_id: user_id.to_string(),
            display_name: display_name.to_string(),
            email: email.map(str::to_string),
            birthdate: Some("1979-08-22".into()),
            password_hash: hasher.hash(PASSWORD).unwrap(),
            temporary_id: true,
        };
        self.store
            .insert_members("test", &[member], self.clock.now())
            .unwrap()
            .unwrap();
    }
}

pub fn cheap_hasher() -> PasswordHasher {
    PasswordHasher::new(&Argon2Settings {
        memory_kib: 8192,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 0,
    })
    .unwrap()
}

pub fn write_config(dir: &Path, realm: &str) {
    let themes = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../themes")
        .canonicalize()
        .unwrap();
    std::fs::create_dir_all(dir.join("realms")).unwrap();
    std::fs::write(
        dir.join("monban.toml"),
        format!(
            "themes_dir = {themes:?}\n[encryption_key]\nfile = {key:?}\ncreate_if_missing = true\n[password_hashing]\nmemory_kib = 8192\niterations = 1\nparallelism = 1\n",
            themes = themes.display().to_string(),
            key = dir.join("encryption.key").display().to_string(),
        ),
    )
    .unwrap();
    std::fs::write(dir.join("realms/test.toml"), realm).unwrap();
}

/// A browser: keeps cookies, and follows only the redirect from a login form that moved the
/// login on to the login's next page (post/redirect/get), as a browser does; every other
/// redirect is for the test to look at.
pub fn browser() -> reqwest::Client {
    browser_with_jar().0
}

/// A browser whose cookie jar the test can read and fill.
pub fn browser_with_jar() -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    browser_following(reqwest::redirect::Policy::custom(|attempt| {
        if attempt.status() == reqwest::StatusCode::SEE_OTHER
            && attempt
                .url()
                .path()
                .ends_with("/login-actions/authenticate")
        {
            attempt.follow()
        } else {
            attempt.stop()
        }
    }))
}

/// A browser that follows no redirect at all, for tests of the redirects themselves.
pub fn browser_stopping_at_every_redirect() -> reqwest::Client {
    browser_following(reqwest::redirect::Policy::none()).0
}

fn browser_following(
    policy: reqwest::redirect::Policy,
) -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(policy)
        .build()
        .unwrap();
    (client, jar)
}

/// What the login form looks like.
pub struct LoginForm {
    pub action: String,
    pub csrf_token: String,
    pub html: String,
}

pub fn parse_login_form(base: &str, html: &str) -> LoginForm {
    let attribute = |marker: &str| {
        let start = html
            .find(marker)
            .unwrap_or_else(|| panic!("no {marker} in {html}"))
            + marker.len();
        html[start..start + html[start..].find('"').unwrap()].replace("&amp;", "&")
    };
    LoginForm {
        action: format!("{base}{}", attribute("action=\"")),
        csrf_token: attribute("name=\"csrf_token\" value=\""),
        html: html.to_string(),
    }
}

/// Follows the authorization request to the login form.
pub async fn open_login_form(
    browser: &reqwest::Client,
    base: &str,
    authorize_url: &str,
) -> LoginForm {
    let response = browser.get(authorize_url).send().await.unwrap();
    assert_eq!(
        response.status(),
        302,
        "authorize should send the browser to the login form"
    );
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("/realms/test/login-actions/authenticate?"),
        "{location}"
    );
    let page = browser
        .get(format!("{base}{location}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    parse_login_form(base, &page.text().await.unwrap())
}

/// Submits the form; returns the response (302 to the client on success, a page otherwise).
pub async fn submit_login(
    browser: &reqwest::Client,
    form: &LoginForm,
    user_id: &str,
    password: &str,
) -> reqwest::Response {
    browser
        .post(&form.action)
        .form(&[
            ("csrf_token", form.csrf_token.as_str()),
            ("username", user_id),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// The query parameters of a redirect to the client.
pub fn callback_params(response: &reqwest::Response) -> Vec<(String, String)> {
    let location = response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no redirect: {}", response.status()));
    let url = url::Url::parse(location.to_str().unwrap()).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A minimal authorization URL (for tests that do not go through the RP library).
pub fn authorize_url(server: &TestServer, client_id: &str, extra: &[(&str, &str)]) -> String {
    let defaults = [
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile email"),
        ("state", "st4te"),
    ];
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    // The test's own values replace the defaults.
    for (k, v) in defaults
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .chain(extra)
    {
        query.append_pair(k, v);
    }
    format!(
        "{}/protocol/openid-connect/auth?{}",
        server.issuer(),
        query.finish()
    )
}

/// Runs a test body on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident => $body:ident;)*) => {
        mod sqlite {
            $(#[actix_web::test] async fn $name() { super::$body($crate::support::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[actix_web::test] async fn $name() { super::$body($crate::support::Backend::Postgres).await })*
        }
    };
}

/// Logs `user_id` in through `client` and exchanges the code; returns the token response.
pub async fn login_and_exchange(
    server: &TestServer,
    browser: &reqwest::Client,
    client: (&str, &str),
    user_id: &str,
    extra: &[(&str, &str)],
) -> serde_json::Value {
    let form = open_login_form(
        browser,
        &server.base,
        &authorize_url(server, client.0, extra),
    )
    .await;
    let response = submit_login(browser, &form, user_id, PASSWORD).await;
    assert_eq!(response.status(), 302);
    let code = param(&callback_params(&response), "code")
        .unwrap()
        .to_string();
    exchange(server, client, &code).await
}

pub async fn exchange(server: &TestServer, client: (&str, &str), code: &str) -> serde_json::Value {
    let (status, body) = token_call(
        server,
        "token",
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// POSTs to a client endpoint (`token`, `token/introspect`, `revoke`) with Basic credentials.
pub async fn token_call(
    server: &TestServer,
    endpoint: &str,
    client: (&str, &str),
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/protocol/openid-connect/{endpoint}",
            server.issuer()
        ))
        .basic_auth(client.0, Some(client.1))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

pub async fn userinfo_status(server: &TestServer, access_token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!(
            "{}/protocol/openid-connect/userinfo",
            server.issuer()
        ))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub async fn jwks(server: &TestServer) -> serde_json::Value {
    reqwest::get(format!("{}/protocol/openid-connect/certs", server.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn b64url(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

pub fn jwt_part(token: &str, index: usize) -> serde_json::Value {
    serde_json::from_slice(&b64url(token.split('.').nth(index).unwrap())).unwrap()
}

/// Verifies a compact JWS against a JWKS with ring directly (not Monban's own JWT code) and
/// returns its claims; panics when the signature does not verify.
pub fn verify_jws(token: &str, jwks: &serde_json::Value) -> serde_json::Value {
    use ring::signature as sig;
    let header = jwt_part(token, 0);
    let kid = header["kid"].as_str().expect("kid");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} not in JWKS"));
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let signature = b64url(signature);
    let field = |name: &str| b64url(key[name].as_str().unwrap());
    let outcome = match header["alg"].as_str().unwrap() {
        "RS256" => sig::RsaPublicKeyComponents {
            n: field("n"),
            e: field("e"),
        }
        .verify(
            &sig::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &signature,
        ),
        "ES256" => {
            let mut point = vec![4u8];
            point.extend(field("x"));
            point.extend(field("y"));
            sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point)
                .verify(signed.as_bytes(), &signature)
        }
        "EdDSA" => sig::UnparsedPublicKey::new(&sig::ED25519, field("x"))
            .verify(signed.as_bytes(), &signature),
        other => panic!("unexpected alg {other}"),
    };
    outcome.expect("the signature verifies against the JWKS");
    jwt_part(token, 1)
}
