//! `realms/<realm>.toml`: one health society — its title, theme, clients, lifetimes and policies.

use super::second_factors::{OtpAppPolicy, OtpMailPolicy, PasskeyPolicy, SecondFactors};
use super::{deserialize, ConfigProblem, FieldPath, ProblemSink};
use crate::policy::{PasswordPolicy, UserIdPolicy};
use serde::Deserialize;
use std::collections::HashSet;

/// Locales Monban ships message bundles for.
pub const SUPPORTED_LOCALES: [&str; 2] = ["ja", "en"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealmConfig {
    /// The realm's name in URLs (`/realms/{name}`); must equal the file's name.
    pub name: String,
    /// Title shown on every page, e.g. "大和総研健保加入者ページ".
    pub display_title: String,
    /// Short name used in mail subjects, e.g. "大和総研健保". Defaults to the title.
    pub short_name: Option<String>,
    #[serde(default = "default_theme")]
    pub theme: String,
    #[serde(default = "default_locale")]
    pub default_locale: String,
    #[serde(default)]
    pub tokens: TokenLifetimes,
    #[serde(default)]
    pub password_policy: PasswordPolicy,
    #[serde(default)]
    pub user_id_policy: UserIdPolicy,
    #[serde(default)]
    pub lockout: LockoutPolicy,
    #[serde(default)]
    pub flows: Flows,
    /// The terms of use members accept (the `terms` step).
    pub terms: Option<TermsConfig>,
    #[serde(default)]
    pub mail: RealmMail,
    #[serde(default)]
    pub second_factors: SecondFactors,
    #[serde(default)]
    pub otp_mail: OtpMailPolicy,
    #[serde(default)]
    pub otp_app: OtpAppPolicy,
    #[serde(default)]
    pub passkey: PasskeyPolicy,
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
}

/// The steps of a login, by name, in order. Which names exist is up to the flow engine; the
/// server checks them at start.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Flows {
    /// Authenticators, e.g. `["password"]`.
    pub browser: Vec<String>,
    /// Required actions of a member's first login, e.g. `["birthdate", "terms"]`.
    pub first_login: Vec<String>,
}

impl Default for Flows {
    fn default() -> Self {
        Self {
            browser: vec!["password".into()],
            first_login: Vec::new(),
        }
    }
}

/// `[terms]`: the first version of the realm's terms of use. Later versions are published
/// with `monban terms publish`, which records them in the database for every instance.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TermsConfig {
    /// A UTF-8 text file, relative to the configuration directory.
    pub file: String,
    /// The file's text, read at load time.
    #[serde(skip)]
    pub text: String,
}

/// `[mail]`: what the realm's mails look like to members.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RealmMail {
    /// The sender, e.g. `"大和総研健保 <no-reply@example.jp>"`; `smtp.from` when absent.
    pub from: Option<String>,
    /// How long a "メールアドレスの確認" link stays valid.
    pub verify_email_link_seconds: i64,
}

impl Default for RealmMail {
    fn default() -> Self {
        Self {
            from: None,
            verify_email_link_seconds: 3600,
        }
    }
}

/// Lifetimes in seconds; the defaults are Keycloak's.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TokenLifetimes {
    pub access_token_seconds: i64,
    pub authorization_code_seconds: i64,
    /// How long a login page may stay open before the login must start again.
    pub login_seconds: i64,
    pub sso_idle_seconds: i64,
    pub sso_max_seconds: i64,
    /// With "ログイン状態の保存" ticked; 0 means the same as without.
    pub sso_idle_remember_me_seconds: i64,
    pub sso_max_remember_me_seconds: i64,
    /// Idle lifetime of offline refresh tokens (`offline_access`), which outlive the SSO session.
    pub offline_idle_seconds: i64,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self {
            access_token_seconds: 300,
            authorization_code_seconds: 60,
            login_seconds: 1800,
            sso_idle_seconds: 1800,
            sso_max_seconds: 36_000,
            sso_idle_remember_me_seconds: 0,
            sso_max_remember_me_seconds: 0,
            offline_idle_seconds: 2_592_000,
        }
    }
}

impl TokenLifetimes {
    /// (idle, max) lifetime of an SSO session.
    pub fn sso(&self, remember_me: bool) -> (i64, i64) {
        let pick = |remembered: i64, normal: i64| {
            if remember_me && remembered > 0 {
                remembered
            } else {
                normal
            }
        };
        (
            pick(self.sso_idle_remember_me_seconds, self.sso_idle_seconds),
            pick(self.sso_max_remember_me_seconds, self.sso_max_seconds),
        )
    }
}

/// Brute-force protection, after Keycloak's: `max_failures` failed attempts lock the account for
/// `wait_increment_seconds`, growing with each further failure up to `max_wait_seconds`. With
/// `permanent_lockout`, `max_temporary_lockouts` temporary locks in a row lock for good
/// (until an admin unlocks).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutPolicy {
    pub enabled: bool,
    pub max_failures: u32,
    pub wait_increment_seconds: i64,
    pub max_wait_seconds: i64,
    /// Failures older than this are forgotten.
    pub failure_reset_seconds: i64,
    pub permanent_lockout: bool,
    pub max_temporary_lockouts: u32,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            max_failures: 5,
            wait_increment_seconds: 60,
            max_wait_seconds: 900,
            failure_reset_seconds: 43_200,
            permanent_lockout: false,
            max_temporary_lockouts: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Hash, Default)]
pub enum SigningAlgorithm {
    #[default]
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlgorithm {
    pub const ALL: [SigningAlgorithm; 3] = [
        SigningAlgorithm::RS256,
        SigningAlgorithm::ES256,
        SigningAlgorithm::EdDSA,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::RS256 => "RS256",
            SigningAlgorithm::ES256 => "ES256",
            SigningAlgorithm::EdDSA => "EdDSA",
        }
    }

    pub fn parse(text: &str) -> Option<SigningAlgorithm> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    /// Shown to members where a client is named.
    pub name: Option<String>,
    /// A public client (a browser or mobile app) has no secret and must use PKCE.
    #[serde(default)]
    pub public: bool,
    /// The client secret, written in the file (convenient, but then the file is a secret).
    pub secret: Option<String>,
    /// Environment variable holding the client secret (preferred).
    pub secret_env: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where "ポータルに戻る" leads.
    pub base_url: Option<String>,
    /// Require PKCE from this confidential client too (public clients always need it).
    #[serde(default)]
    pub require_pkce: bool,
    #[serde(default)]
    pub id_token_signed_response_alg: SigningAlgorithm,
    /// May use `grant_type=client_credentials` (a service calling APIs on its own behalf).
    #[serde(default)]
    pub service_account: bool,
    /// Scopes this client may request with client credentials.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `aud` of its client-credentials tokens; its own client_id when empty.
    #[serde(default)]
    pub audience: Vec<String>,
    /// May request `offline_access` (refresh tokens that outlive the SSO session).
    #[serde(default)]
    pub offline_access: bool,
    /// Access-token lifetime for this client; the realm's when absent.
    pub access_token_seconds: Option<i64>,
    /// OIDC Back-Channel Logout: where Monban posts a logout token when a session ends.
    pub backchannel_logout_uri: Option<String>,
    /// The client's public keys for `private_key_jwt`, as a JWKS JSON document.
    pub jwks: Option<String>,
    /// Where to fetch the client's JWKS for `private_key_jwt`.
    pub jwks_uri: Option<String>,
    /// Resolved at load time from `secret` or `secret_env`.
    #[serde(skip)]
    pub resolved_secret: Option<String>,
}

/// How a client proves who it is at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuthentication<'a> {
    Public,
    Secret(&'a str),
    /// `private_key_jwt` with keys inline or at a URI.
    PrivateKeyJwt,
}

impl ClientConfig {
    pub fn authentication(&self) -> ClientAuthentication<'_> {
        if self.public {
            return ClientAuthentication::Public;
        }
        match &self.resolved_secret {
            Some(secret) => ClientAuthentication::Secret(secret),
            None => ClientAuthentication::PrivateKeyJwt,
        }
    }

    pub fn uses_private_key_jwt(&self) -> bool {
        !self.public && (self.jwks.is_some() || self.jwks_uri.is_some())
    }

    pub fn access_token_seconds(&self, realm: &TokenLifetimes) -> i64 {
        self.access_token_seconds
            .unwrap_or(realm.access_token_seconds)
    }

    pub fn pkce_required(&self) -> bool {
        self.public || self.require_pkce
    }
}

fn default_theme() -> String {
    "default".into()
}
fn default_locale() -> String {
    "ja".into()
}

impl RealmConfig {
    /// Parses and validates one realm file. `file` names it in reports; `expected_name` is the
    /// file's stem; `env` resolves `secret_env` (a function, so this stays free of I/O).
    pub fn parse(
        file: &str,
        text: &str,
        expected_name: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Vec<ConfigProblem>> {
        let mut realm: RealmConfig = deserialize(file, text).map_err(|p| vec![p])?;
        let mut sink = ProblemSink::new(file, text);
        realm.validate(expected_name, env, &mut sink);
        let problems = sink.finish();
        if problems.is_empty() {
            Ok(realm)
        } else {
            Err(problems)
        }
    }

    pub fn client(&self, client_id: &str) -> Option<&ClientConfig> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    /// Where "ポータルに戻る" leads for a client: its `base_url`.
    pub fn back_url(&self, client_id: Option<&str>) -> Option<String> {
        client_id
            .and_then(|id| self.client(id))
            .and_then(|c| c.base_url.clone())
    }

    pub fn short_name(&self) -> &str {
        self.short_name.as_deref().unwrap_or(&self.display_title)
    }

    fn validate(
        &mut self,
        expected_name: &str,
        env: &dyn Fn(&str) -> Option<String>,
        sink: &mut ProblemSink<'_>,
    ) {
        let root = FieldPath::root();
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !name_ok {
            sink.report(
                &root.key("name"),
                "use 1-64 lowercase letters, digits, '-' or '_'",
            );
        } else if self.name != expected_name {
            sink.report(
                &root.key("name"),
                format!(
                    "is \"{}\" but the file is named \"{expected_name}.toml\"",
                    self.name
                ),
            );
        }
        if self.display_title.trim().is_empty() {
            sink.report(&root.key("display_title"), "must not be empty");
        }
        if !SUPPORTED_LOCALES.contains(&self.default_locale.as_str()) {
            sink.report(
                &root.key("default_locale"),
                format!("must be one of {}", SUPPORTED_LOCALES.join(", ")),
            );
        }
        self.validate_lifetimes(&root.key("tokens"), sink);
        for (field, message) in self.password_policy.problems() {
            sink.report(&root.key("password_policy").key(field), message);
        }
        for (field, message) in self.user_id_policy.problems() {
            sink.report(&root.key("user_id_policy").key(field), message);
        }
        if self.flows.browser.is_empty() {
            sink.report(
                &root.key("flows").key("browser"),
                "name at least one step, e.g. [\"password\"]",
            );
        }
        if self.mail.verify_email_link_seconds <= 0 {
            sink.report(
                &root.key("mail").key("verify_email_link_seconds"),
                "must be a positive number of seconds",
            );
        }
        if let Some(from) = &self.mail.from {
            if !from.contains('@') {
                sink.report(&root.key("mail").key("from"), "must be a mail address");
            }
        }
        for (field, message) in self.otp_mail.problems() {
            sink.report(&root.key("otp_mail").key(field), message);
        }
        for (field, message) in self.otp_app.problems() {
            sink.report(&root.key("otp_app").key(field), message);
        }
        for (field, message) in self.passkey.problems() {
            sink.report(&root.key("passkey").key(field), message);
        }
        let mut offered = HashSet::new();
        for (index, method) in self.second_factors.offered.iter().enumerate() {
            if !offered.insert(*method) {
                sink.report(
                    &root.key("second_factors").key("offered").index(index),
                    format!("\"{}\" is listed twice", method.as_str()),
                );
            }
        }
        if self.flows.first_login.iter().any(|s| s == "terms") && self.terms.is_none() {
            sink.report(
                &root.key("flows").key("first_login"),
                "the \"terms\" step needs a [terms] section naming the terms file",
            );
        }
        for (list, names) in [
            ("browser", &self.flows.browser),
            ("first_login", &self.flows.first_login),
        ] {
            for (index, name) in names.iter().enumerate() {
                if names[..index].contains(name) {
                    sink.report(
                        &root.key("flows").key(list).index(index),
                        format!("\"{name}\" is listed twice"),
                    );
                }
            }
        }
        let lockout = root.key("lockout");
        if self.lockout.max_failures == 0 {
            sink.report(&lockout.key("max_failures"), "must be at least 1");
        }
        if self.lockout.wait_increment_seconds <= 0 {
            sink.report(&lockout.key("wait_increment_seconds"), "must be positive");
        }
        if self.lockout.failure_reset_seconds <= 0 {
            sink.report(&lockout.key("failure_reset_seconds"), "must be positive");
        }
        if self.lockout.max_wait_seconds < self.lockout.wait_increment_seconds {
            sink.report(
                &lockout.key("max_wait_seconds"),
                "must be at least wait_increment_seconds",
            );
        }
        let mut seen = HashSet::new();
        for (index, client) in self.clients.iter_mut().enumerate() {
            let path = root.key("clients").index(index);
            if !seen.insert(client.client_id.clone()) {
                sink.report(
                    &path.key("client_id"),
                    format!("\"{}\" is used twice", client.client_id),
                );
            }
            validate_client(client, &path, env, sink);
        }
    }

    fn validate_lifetimes(&self, path: &FieldPath, sink: &mut ProblemSink<'_>) {
        let t = &self.tokens;
        for (field, value) in [
            ("access_token_seconds", t.access_token_seconds),
            ("authorization_code_seconds", t.authorization_code_seconds),
            ("login_seconds", t.login_seconds),
            ("sso_idle_seconds", t.sso_idle_seconds),
            ("sso_max_seconds", t.sso_max_seconds),
            ("offline_idle_seconds", t.offline_idle_seconds),
        ] {
            if value <= 0 {
                sink.report(&path.key(field), "must be a positive number of seconds");
            }
        }
        for (field, value) in [
            (
                "sso_idle_remember_me_seconds",
                t.sso_idle_remember_me_seconds,
            ),
            ("sso_max_remember_me_seconds", t.sso_max_remember_me_seconds),
        ] {
            if value < 0 {
                sink.report(
                    &path.key(field),
                    "must be 0 (same as without remember-me) or positive",
                );
            }
        }
        if t.authorization_code_seconds > 600 {
            sink.report(
                &path.key("authorization_code_seconds"),
                "must be at most 600 (RFC 6749 §4.1.2)",
            );
        }
        if t.sso_idle_remember_me_seconds > 0
            && t.sso_max_remember_me_seconds > 0
            && t.sso_idle_remember_me_seconds > t.sso_max_remember_me_seconds
        {
            sink.report(
                &path.key("sso_idle_remember_me_seconds"),
                "must not exceed sso_max_remember_me_seconds",
            );
        }
        if t.sso_idle_seconds > t.sso_max_seconds {
            sink.report(
                &path.key("sso_idle_seconds"),
                "must not exceed sso_max_seconds",
            );
        }
    }
}

fn validate_client(
    client: &mut ClientConfig,
    path: &FieldPath,
    env: &dyn Fn(&str) -> Option<String>,
    sink: &mut ProblemSink<'_>,
) {
    let id_ok = !client.client_id.is_empty()
        && client.client_id.len() <= 255
        && client
            .client_id
            .chars()
            .all(|c| c.is_ascii_graphic() && c != ':');
    if !id_ok {
        sink.report(
            &path.key("client_id"),
            "use 1-255 visible ASCII characters without ':'",
        );
    }
    match (client.public, &client.secret, &client.secret_env) {
        (true, None, None) => {}
        (true, _, _) => sink.report(&path.key("public"), "a public client has no secret"),
        (false, Some(_), Some(_)) => sink.report(
            &path.key("secret_env"),
            "give either `secret` or `secret_env`, not both",
        ),
        (false, Some(secret), None) => {
            if secret.len() < 16 {
                sink.report(&path.key("secret"), "must be at least 16 characters");
            }
            client.resolved_secret = Some(secret.clone());
        }
        (false, None, Some(variable)) => match env(variable) {
            Some(secret) if secret.len() >= 16 => client.resolved_secret = Some(secret),
            Some(_) => sink.report(
                &path.key("secret_env"),
                format!("the secret in ${variable} must be at least 16 characters"),
            ),
            None => sink.report(&path.key("secret_env"), format!("${variable} is not set")),
        },
        (false, None, None) if client.jwks.is_some() || client.jwks_uri.is_some() => {}
        (false, None, None) => sink.report(
            &path.key("client_id"),
            "a confidential client needs `secret`, `secret_env`, `jwks` or `jwks_uri` (or set `public = true`)",
        ),
    }
    if client.jwks.is_some() && client.jwks_uri.is_some() {
        sink.report(
            &path.key("jwks_uri"),
            "give either `jwks` or `jwks_uri`, not both",
        );
    }
    if client.public && (client.jwks.is_some() || client.jwks_uri.is_some()) {
        sink.report(&path.key("public"), "a public client has no keys");
    }
    if let Some(jwks) = &client.jwks {
        let keys = serde_json::from_str::<serde_json::Value>(jwks)
            .ok()
            .and_then(|v| v.get("keys").and_then(|k| k.as_array()).map(|k| k.len()));
        if keys.is_none_or(|n| n == 0) {
            sink.report(
                &path.key("jwks"),
                "must be a JWKS JSON document: {\"keys\": [ … ]}",
            );
        }
    }
    if let Some(uri) = &client.jwks_uri {
        if !(uri.starts_with("https://") || uri.starts_with("http://")) {
            sink.report(&path.key("jwks_uri"), "must be an http(s) URL");
        }
    }
    if let Some(uri) = &client.backchannel_logout_uri {
        match url::Url::parse(uri) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.fragment().is_none() => {}
            _ => sink.report(
                &path.key("backchannel_logout_uri"),
                "must be an absolute http(s) URL without a fragment",
            ),
        }
    }
    if client.access_token_seconds.is_some_and(|s| s <= 0) {
        sink.report(
            &path.key("access_token_seconds"),
            "must be a positive number of seconds",
        );
    }
    if client.service_account && client.public {
        sink.report(
            &path.key("service_account"),
            "a public client cannot be a service account",
        );
    }
    if !client.scopes.is_empty() && !client.service_account {
        sink.report(
            &path.key("scopes"),
            "only service accounts (service_account = true) list scopes",
        );
    }
    if client
        .scopes
        .iter()
        .any(|s| s == "openid" || s.is_empty() || s.contains(' '))
    {
        sink.report(&path.key("scopes"), "list single scope names, not `openid`");
    }
    if client.redirect_uris.is_empty() && !client.service_account {
        sink.report(&path.key("redirect_uris"), "list at least one redirect URI");
    }
    for (index, uri) in client.redirect_uris.iter().enumerate() {
        if let Err(message) = check_registered_uri(uri) {
            sink.report(&path.key("redirect_uris").index(index), message);
        }
    }
    for (index, uri) in client.post_logout_redirect_uris.iter().enumerate() {
        if let Err(message) = check_registered_uri(uri) {
            sink.report(&path.key("post_logout_redirect_uris").index(index), message);
        }
    }
    if let Some(base) = &client.base_url {
        if let Err(message) = check_registered_uri(base) {
            sink.report(&path.key("base_url"), message);
        }
    }
}

/// Registered URIs are matched exactly, so they must be complete: absolute, no fragment, no
/// wildcard.
fn check_registered_uri(uri: &str) -> Result<(), String> {
    if uri.contains('*') {
        return Err("wildcards are not allowed: URIs are matched exactly".into());
    }
    match url::Url::parse(uri) {
        Ok(url) if url.fragment().is_some() => Err("must not contain a fragment (#…)".into()),
        Ok(url) if url.cannot_be_a_base() && !url.scheme().contains('.') => {
            Err("must be an absolute URL".into())
        }
        Ok(_) => Ok(()),
        Err(error) => Err(format!("is not a valid absolute URL ({error})")),
    }
}

/// Parses every realm file and reports the problems of all of them together.
pub fn parse_realms(
    files: &[(String, String, String)],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<RealmConfig>, Vec<ConfigProblem>> {
    let mut realms = Vec::new();
    let mut problems = Vec::new();
    for (file, stem, text) in files {
        match RealmConfig::parse(file, text, stem, env) {
            Ok(realm) => realms.push(realm),
            Err(found) => problems.extend(found),
        }
    }
    if problems.is_empty() {
        Ok(realms)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "demo"
display_title = "デモ健保加入者ページ"

[[clients]]
client_id = "portal"
secret = "0123456789abcdef"
redirect_uris = ["http://localhost:8081/callback"]
base_url = "http://localhost:8081/"
"#;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_minimal_realm_gets_keycloak_defaults() {
        let realm = RealmConfig::parse("demo.toml", GOOD, "demo", &no_env).unwrap();
        assert_eq!(realm.tokens.access_token_seconds, 300);
        assert_eq!(realm.tokens.authorization_code_seconds, 60);
        assert_eq!(realm.tokens.sso(false), (1800, 36_000));
        let client = realm.client("portal").unwrap();
        assert_eq!(
            client.authentication(),
            ClientAuthentication::Secret("0123456789abcdef")
        );
        assert!(!client.pkce_required());
        assert_eq!(client.id_token_signed_response_alg, SigningAlgorithm::RS256);
    }

    #[test]
    fn each_problem_names_line_and_field() {
        let text = GOOD
            .replace(
                "\"http://localhost:8081/callback\"",
                "\"http://localhost:8081/callback\", \"/relative\"",
            )
            .replace("name = \"demo\"", "name = \"other\"");
        let problems = RealmConfig::parse("realms/demo.toml", &text, "demo", &no_env).unwrap_err();
        let rendered: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            rendered.contains(
                &"realms/demo.toml:2: name: is \"other\" but the file is named \"demo.toml\""
                    .to_string()
            ),
            "{rendered:?}"
        );
        assert!(
            rendered
                .iter()
                .any(|p| p.starts_with("realms/demo.toml:8: clients[0].redirect_uris[1]:")),
            "{rendered:?}"
        );
    }

    #[test]
    fn type_errors_are_located() {
        let text = GOOD.replace(
            "display_title = \"デモ健保加入者ページ\"",
            "display_title = 12",
        );
        let problems = RealmConfig::parse("demo.toml", &text, "demo", &no_env).unwrap_err();
        assert_eq!(problems[0].line, Some(3));
        assert_eq!(problems[0].field, "display_title");
    }

    #[test]
    fn secrets_from_the_environment() {
        let text = GOOD.replace(
            "secret = \"0123456789abcdef\"",
            "secret_env = \"PORTAL_SECRET\"",
        );
        let env =
            |name: &str| (name == "PORTAL_SECRET").then(|| "from-the-environment".to_string());
        let realm = RealmConfig::parse("demo.toml", &text, "demo", &env).unwrap();
        assert_eq!(
            realm.client("portal").unwrap().authentication(),
            ClientAuthentication::Secret("from-the-environment")
        );
        let problems = RealmConfig::parse("demo.toml", &text, "demo", &no_env).unwrap_err();
        assert_eq!(problems[0].field, "clients[0].secret_env");
        assert_eq!(problems[0].line, Some(7));
    }

    #[test]
    fn wildcards_and_fragments_are_refused() {
        assert!(check_registered_uri("https://a.example/*").is_err());
        assert!(check_registered_uri("https://a.example/cb#x").is_err());
        assert!(check_registered_uri("https://a.example/cb?x=1").is_ok());
        assert!(check_registered_uri("com.example.app:/callback").is_ok());
    }
}
