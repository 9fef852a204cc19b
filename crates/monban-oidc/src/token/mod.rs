//! The token endpoint (RFC 6749 §3.2): authorization codes, refresh tokens and client
//! credentials, with the errors of §5.2.

mod client_credentials;
mod code;
mod refresh;

pub use code::AuthorizationResponse;

use crate::client_auth::{authenticate_client, ClientAuthError, PresentedCredentials};
use crate::{OidcError, Provider};
use monban_core::config::{ClientConfig, RealmConfig};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_expires_in: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub scope: String,
}

/// An error answer of the token endpoint (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    pub error: &'static str,
    pub description: String,
    pub status: u16,
    /// `invalid_client` after a failed attempt carries a challenge.
    pub www_authenticate: Option<String>,
    /// For the log only, never sent: why the server failed.
    pub cause: Option<String>,
}

impl TokenError {
    pub(crate) fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
            status: 400,
            www_authenticate: None,
            cause: None,
        }
    }

    pub(crate) fn invalid_client(realm: &str) -> Self {
        Self {
            error: "invalid_client",
            description: "client authentication failed".into(),
            status: 401,
            www_authenticate: Some(format!("Basic realm=\"{realm}\"")),
            cause: None,
        }
    }

    pub(crate) fn invalid_grant(description: &str) -> Self {
        Self::new("invalid_grant", description)
    }

    pub fn body(&self) -> Value {
        json!({ "error": self.error, "error_description": self.description })
    }
}

impl From<OidcError> for TokenError {
    fn from(error: OidcError) -> Self {
        Self {
            error: "server_error",
            description: format!(
                "the server could not complete the request ({})",
                error.kind()
            ),
            status: 500,
            www_authenticate: None,
            cause: Some(error.to_string()),
        }
    }
}

/// A request to one of the client-facing endpoints (token, introspection, revocation): its
/// form fields and its `Authorization` header.
pub struct TokenRequest<'a> {
    pub params: &'a [(String, String)],
    pub authorization: Option<&'a str>,
    /// The URL the request was sent to, which a client assertion must name as its audience.
    pub endpoint: &'a str,
}

impl TokenRequest<'_> {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        crate::param(self.params, name)
    }

    /// RFC 6749 §3.2: parameters must not repeat.
    pub(crate) fn check_not_repeated(&self) -> Result<(), TokenError> {
        let params = self.params;
        match params
            .iter()
            .find(|(k, _)| params.iter().filter(|(j, _)| j == k).count() > 1)
        {
            Some((name, _)) => Err(TokenError::new(
                "invalid_request",
                format!("parameter {name} is repeated"),
            )),
            None => Ok(()),
        }
    }
}

impl Provider {
    /// Authenticates the calling client by any method it is allowed.
    pub(crate) fn calling_client<'r>(
        &self,
        realm: &'r RealmConfig,
        request: &TokenRequest<'_>,
    ) -> Result<&'r ClientConfig, TokenError> {
        let presented = PresentedCredentials {
            authorization: request.authorization,
            form_client_id: request.get("client_id"),
            form_client_secret: request.get("client_secret"),
            assertion_type: request.get("client_assertion_type"),
            assertion: request.get("client_assertion"),
        };
        authenticate_client(self, realm, &presented, request.endpoint).map_err(
            |error| match error {
                ClientAuthError::Malformed(description) => {
                    TokenError::new("invalid_request", description)
                }
                ClientAuthError::Failed => TokenError::invalid_client(&realm.name),
                ClientAuthError::Server(error) => error.into(),
            },
        )
    }

    /// The token endpoint.
    pub fn token(
        &self,
        realm: &RealmConfig,
        request: &TokenRequest<'_>,
    ) -> Result<TokenResponse, TokenError> {
        request.check_not_repeated()?;
        let client = self.calling_client(realm, request)?;
        match request.get("grant_type") {
            Some("authorization_code") => self.exchange_code(realm, client, request),
            Some("refresh_token") => self.refresh(realm, client, request),
            Some("client_credentials") => self.client_credentials(realm, client, request),
            Some(_) => Err(TokenError::new(
                "unsupported_grant_type",
                "supported: authorization_code, refresh_token, client_credentials",
            )),
            None => Err(TokenError::new("invalid_request", "grant_type is required")),
        }
    }
}
