//! Who is calling a client-facing endpoint (RFC 6749 §2.3, RFC 7523 §2.2):
//! `client_secret_basic`, `client_secret_post`, `private_key_jwt`, or a public client naming
//! itself.

use crate::{OidcError, Provider};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use monban_core::config::{ClientAuthentication, ClientConfig, RealmConfig};
use monban_store::sealed::digest;
use serde::Deserialize;
use subtle::ConstantTimeEq;

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Why the client could not be authenticated. Everything except a malformed request is
/// `invalid_client` with status 401 (RFC 6749 §5.2).
#[derive(Debug)]
pub enum ClientAuthError {
    /// Two methods at once, or unreadable credentials.
    Malformed(&'static str),
    Failed,
    Server(OidcError),
}

/// Credentials as they arrived.
pub struct PresentedCredentials<'a> {
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    pub form_client_id: Option<&'a str>,
    pub form_client_secret: Option<&'a str>,
    pub assertion_type: Option<&'a str>,
    pub assertion: Option<&'a str>,
}

pub fn authenticate_client<'r>(
    provider: &Provider,
    realm: &'r RealmConfig,
    presented: &PresentedCredentials<'_>,
    endpoint: &str,
) -> Result<&'r ClientConfig, ClientAuthError> {
    if presented.assertion.is_some() || presented.assertion_type.is_some() {
        if presented.authorization.is_some() || presented.form_client_secret.is_some() {
            return Err(ClientAuthError::Malformed(
                "use one client authentication method, not two",
            ));
        }
        return authenticate_by_assertion(provider, realm, presented, endpoint);
    }
    let basic = match presented.authorization {
        Some(header) if header.len() > 6 && header[..6].eq_ignore_ascii_case("basic ") => Some(
            decode_basic(&header[6..])
                .ok_or(ClientAuthError::Malformed("unreadable Basic credentials"))?,
        ),
        _ => None,
    };
    let (client_id, secret) = match (basic, presented.form_client_secret) {
        (Some(_), Some(_)) => {
            return Err(ClientAuthError::Malformed(
                "use one client authentication method, not two",
            ))
        }
        (Some((id, secret)), None) => {
            if presented
                .form_client_id
                .is_some_and(|form_id| form_id != id)
            {
                return Err(ClientAuthError::Malformed(
                    "client_id differs from the authenticated client",
                ));
            }
            (id, Some(secret))
        }
        (None, secret) => match presented.form_client_id {
            Some(id) => (id.to_string(), secret.map(str::to_string)),
            None => return Err(ClientAuthError::Failed),
        },
    };
    let client = realm.client(&client_id).ok_or(ClientAuthError::Failed)?;
    match (client.authentication(), secret) {
        (ClientAuthentication::Public, None) => Ok(client),
        (ClientAuthentication::Secret(expected), Some(given)) => {
            if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
                Ok(client)
            } else {
                Err(ClientAuthError::Failed)
            }
        }
        _ => Err(ClientAuthError::Failed),
    }
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    jti: String,
    exp: i64,
}

/// `private_key_jwt`: a JWT signed with the client's key, naming Monban as its audience,
/// used once.
fn authenticate_by_assertion<'r>(
    provider: &Provider,
    realm: &'r RealmConfig,
    presented: &PresentedCredentials<'_>,
    endpoint: &str,
) -> Result<&'r ClientConfig, ClientAuthError> {
    if presented.assertion_type != Some(JWT_BEARER_ASSERTION) {
        return Err(ClientAuthError::Malformed(
            "client_assertion_type must be jwt-bearer",
        ));
    }
    let assertion = presented
        .assertion
        .ok_or(ClientAuthError::Malformed("client_assertion is missing"))?;
    let header = decode_header(assertion).map_err(|_| ClientAuthError::Failed)?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA
    ) {
        return Err(ClientAuthError::Failed);
    }
    // The client named in the assertion (checked against the signature below).
    let claimed: AssertionClaims = jsonwebtoken::dangerous::insecure_decode(assertion)
        .map(|d| d.claims)
        .map_err(|_| ClientAuthError::Failed)?;
    if presented.form_client_id.is_some_and(|id| id != claimed.iss) {
        return Err(ClientAuthError::Malformed(
            "client_id differs from the assertion's issuer",
        ));
    }
    let client = realm.client(&claimed.iss).ok_or(ClientAuthError::Failed)?;
    if !client.uses_private_key_jwt() {
        return Err(ClientAuthError::Failed);
    }
    let keys = provider
        .client_keys(client)
        .map_err(ClientAuthError::Server)?;
    let candidates: Vec<&jsonwebtoken::jwk::Jwk> = keys
        .keys
        .iter()
        .filter(|k| header.kid.is_none() || k.common.key_id == header.kid)
        .collect();
    let issuer = provider.issuer(&realm.name);
    let token_endpoint = format!("{issuer}/protocol/openid-connect/token");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[issuer.as_str(), token_endpoint.as_str(), endpoint]);
    validation.set_issuer(&[client.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    validation.leeway = 5;
    let verified = candidates.iter().any(|jwk| {
        DecodingKey::from_jwk(jwk)
            .ok()
            .and_then(|key| decode::<AssertionClaims>(assertion, &key, &validation).ok())
            .is_some_and(|data| data.claims.sub == client.client_id)
    });
    let now = provider.clock.now();
    // An assertion must be short-lived: RFC 7523 leaves the bound to us.
    if !verified || claimed.exp > now + 600 {
        return Err(ClientAuthError::Failed);
    }
    let first_use = provider
        .store
        .spend_client_assertion(
            &digest(&format!(
                "{}\u{0}{}\u{0}{}",
                realm.name, client.client_id, claimed.jti
            )),
            claimed.exp + 60,
        )
        .map_err(|e| ClientAuthError::Server(e.into()))?;
    if first_use {
        Ok(client)
    } else {
        Err(ClientAuthError::Failed)
    }
}

impl Provider {
    /// A client's public keys: inline, or fetched from its `jwks_uri`.
    fn client_keys(&self, client: &ClientConfig) -> Result<JwkSet, OidcError> {
        if let Some(inline) = &client.jwks {
            return serde_json::from_str(inline).map_err(|e| {
                OidcError::Internal(format!("client {} jwks: {e}", client.client_id))
            });
        }
        match &client.jwks_uri {
            Some(uri) => self.fetch_jwks(uri),
            None => Ok(JwkSet { keys: Vec::new() }),
        }
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn decode_basic(encoded: &str) -> Option<(String, String)> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}
