use crate::Provider;
use serde_json::{json, Value};

impl Provider {
    /// OpenID Provider Metadata (Discovery 1.0 §3), on Keycloak's paths.
    pub fn discovery_document(&self, realm: &str) -> Value {
        let issuer = self.issuer(realm);
        let endpoint = |path: &str| format!("{issuer}/protocol/openid-connect/{path}");
        json!({
            "issuer": issuer,
            "authorization_endpoint": endpoint("auth"),
            "token_endpoint": endpoint("token"),
            "userinfo_endpoint": endpoint("userinfo"),
            "jwks_uri": endpoint("certs"),
            "introspection_endpoint": endpoint("token/introspect"),
            "revocation_endpoint": endpoint("revoke"),
            "end_session_endpoint": endpoint("logout"),
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
            "frontchannel_logout_supported": false,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "userinfo_signing_alg_values_supported": ["none"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "acr", "amr", "azp", "preferred_username", "name", "email", "email_verified"],
            "claims_parameter_supported": true,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "authorization_response_iss_parameter_supported": true,
            "ui_locales_supported": ["ja", "en"],
            "prompt_values_supported": ["none", "login"],
        })
    }
}
