//! `grant_type=client_credentials`: a service account asking for a token for itself.

use super::{TokenError, TokenRequest, TokenResponse};
use crate::mint::{Grant, Subject};
use crate::Provider;
use monban_core::config::{ClientAuthentication, ClientConfig, RealmConfig};

impl Provider {
    pub(super) fn client_credentials(
        &self,
        realm: &RealmConfig,
        client: &ClientConfig,
        request: &TokenRequest<'_>,
    ) -> Result<TokenResponse, TokenError> {
        if !client.service_account || client.authentication() == ClientAuthentication::Public {
            return Err(TokenError::new(
                "unauthorized_client",
                "this client may not use client_credentials",
            ));
        }
        let scopes = match request.get("scope") {
            None => client.scopes.clone(),
            Some(asked) => {
                let asked: Vec<String> = asked
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                if let Some(extra) = asked.iter().find(|s| !client.scopes.contains(s)) {
                    return Err(TokenError::new(
                        "invalid_scope",
                        format!("scope {extra} is not allowed for this client"),
                    ));
                }
                asked
            }
        };
        let grant = Grant {
            realm,
            client,
            subject: Subject::Service,
            scopes,
            nonce: None,
            claims: Default::default(),
            code_digest: None,
            family_id: None,
        };
        let (access_token, expires_in) = self.mint_access_token(&grant)?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token: None,
            refresh_expires_in: None,
            id_token: None,
            scope: grant.scope(),
        })
    }
}
