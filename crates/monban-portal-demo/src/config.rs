//! Command-line and environment configuration.

use clap::Parser;

/// Settings of the demo portal; every flag can also come from the environment.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "monban-portal-demo",
    version,
    about = "A demo health-society member portal that signs members in through Monban"
)]
pub struct Config {
    /// Address the portal listens on.
    #[arg(long, env = "PORTAL_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: String,

    /// URL under which browsers reach the portal; the redirect URI is `{public-url}/callback`.
    #[arg(
        long,
        env = "PORTAL_PUBLIC_URL",
        default_value = "http://localhost:8081"
    )]
    pub public_url: String,

    /// Issuer identifier of the Monban realm (discovery is `{issuer}/.well-known/openid-configuration`).
    #[arg(
        long,
        env = "PORTAL_ISSUER",
        default_value = "http://localhost:8080/realms/demo"
    )]
    pub issuer: String,

    /// Client ID registered for the portal in the realm.
    #[arg(long, env = "PORTAL_CLIENT_ID", default_value = "portal")]
    pub client_id: String,

    /// Client secret (sent with client_secret_basic).
    #[arg(
        long,
        env = "PORTAL_CLIENT_SECRET",
        default_value = "demo-portal-secret",
        hide_env_values = true
    )]
    pub client_secret: String,
}

impl Config {
    /// Public URL without a trailing slash, so paths can be appended.
    pub fn base_url(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }

    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.base_url())
    }

    pub fn post_logout_redirect_uri(&self) -> String {
        format!("{}/", self.base_url())
    }

    /// Keycloak-compatible logout path, used when discovery has no `end_session_endpoint`.
    pub fn fallback_end_session_endpoint(&self) -> String {
        format!(
            "{}/protocol/openid-connect/logout",
            self.issuer.trim_end_matches('/')
        )
    }

    /// Cookies get the `Secure` attribute only when the portal is served over HTTPS,
    /// otherwise the browser would drop them on plain-HTTP development setups.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_urls_ignore_trailing_slashes() {
        let config = Config::parse_from([
            "portal",
            "--public-url",
            "https://portal.example.jp/",
            "--issuer",
            "https://id.example.jp/realms/daiwakenpo/",
        ]);
        assert_eq!(config.redirect_uri(), "https://portal.example.jp/callback");
        assert_eq!(
            config.post_logout_redirect_uri(),
            "https://portal.example.jp/"
        );
        assert_eq!(
            config.fallback_end_session_endpoint(),
            "https://id.example.jp/realms/daiwakenpo/protocol/openid-connect/logout"
        );
        assert!(config.secure_cookies());
    }
}
