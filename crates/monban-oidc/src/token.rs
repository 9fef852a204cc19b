//! Codes and tokens: the authorization response after a login, and the token endpoint
//! (`grant_type=authorization_code`) with its RFC 6749 §5.2 errors.

use crate::authorize::{pkce_matches, AuthorizationRequest, ResponseMode};
use crate::client_auth::{authenticate_client, ClientAuthError, PresentedCredentials};
use crate::keys::jwt_algorithm;
use crate::{random_token, OidcError, Provider};
use jsonwebtoken::{encode, Header};
use monban_core::config::{ClientConfig, RealmConfig, SigningAlgorithm};
use monban_store::sealed::digest;
use monban_store::{AuthorizationCode, CodeRedemption, IssuedToken, SsoSession, User};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Where to send the browser after a successful login, and with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(String, String)>,
}

impl AuthorizationResponse {
    /// The redirect URI with the parameters in its query (for `response_mode=query`).
    pub fn query_url(&self) -> String {
        let mut url = self.redirect_uri.clone();
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.params)
            .finish();
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query);
        url
    }
}

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
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
}

impl TokenError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
            status: 400,
            www_authenticate: None,
        }
    }

    fn invalid_client(realm: &str) -> Self {
        Self {
            error: "invalid_client",
            description: "client authentication failed".into(),
            status: 401,
            www_authenticate: Some(format!("Basic realm=\"{realm}\"")),
        }
    }

    pub fn body(&self) -> Value {
        json!({ "error": self.error, "error_description": self.description })
    }
}

impl From<OidcError> for TokenError {
    fn from(error: OidcError) -> Self {
        // Logged by the caller; the client learns only that the server failed.
        let _ = error;
        Self {
            error: "server_error",
            description: "the server could not complete the request".into(),
            status: 500,
            www_authenticate: None,
        }
    }
}

/// The form fields of a token request; each at most once.
pub struct TokenRequest<'a> {
    pub params: &'a [(String, String)],
    pub authorization: Option<&'a str>,
}

impl Provider {
    /// Issues a code for a completed login and says where to deliver it.
    pub fn issue_code(
        &self,
        realm: &RealmConfig,
        request: &AuthorizationRequest,
        session: &SsoSession,
    ) -> Result<AuthorizationResponse, OidcError> {
        let now = self.clock.now();
        let code = random_token();
        self.store.insert_authorization_code(&AuthorizationCode {
            code_digest: digest(&code),
            realm: realm.name.clone(),
            client_id: request.client_id.clone(),
            user_pk: session.user_pk.clone(),
            sso_session_id: session.id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            scope: request.scope(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            code_challenge_method: request.code_challenge.as_ref().map(|_| "S256".to_string()),
            auth_time: session.auth_time,
            acr: session.acr.clone(),
            amr: session.amr.clone(),
            created_at: now,
            expires_at: now + realm.tokens.authorization_code_seconds,
            used_at: None,
        })?;
        let mut params = vec![("code".to_string(), code)];
        if let Some(state) = &request.state {
            params.push(("state".into(), state.clone()));
        }
        // RFC 9207: name the issuer so the client can tell mix-up attacks apart.
        params.push(("iss".into(), self.issuer(&realm.name)));
        Ok(AuthorizationResponse {
            redirect_uri: request.redirect_uri.clone(),
            mode: request.response_mode,
            params,
        })
    }

    /// The error response for a request that reached a verified redirect URI.
    pub fn error_response(
        &self,
        realm: &str,
        error: &crate::ErrorRedirect,
    ) -> AuthorizationResponse {
        let mut params = vec![("error".to_string(), error.error.to_string())];
        if !error.description.is_empty() {
            params.push(("error_description".into(), error.description.clone()));
        }
        if let Some(state) = &error.state {
            params.push(("state".into(), state.clone()));
        }
        params.push(("iss".into(), self.issuer(realm)));
        AuthorizationResponse {
            redirect_uri: error.redirect_uri.clone(),
            mode: error.response_mode,
            params,
        }
    }

    /// The token endpoint.
    pub fn token(
        &self,
        realm: &RealmConfig,
        request: &TokenRequest<'_>,
    ) -> Result<TokenResponse, TokenError> {
        let params = request.params;
        if let Some((name, _)) = params
            .iter()
            .find(|(k, _)| params.iter().filter(|(j, _)| j == k).count() > 1)
        {
            return Err(TokenError::new(
                "invalid_request",
                format!("parameter {name} is repeated"),
            ));
        }
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let presented = PresentedCredentials {
            authorization: request.authorization,
            form_client_id: get("client_id"),
            form_client_secret: get("client_secret"),
        };
        let client = authenticate_client(realm, &presented).map_err(|error| match error {
            ClientAuthError::Malformed(description) => {
                TokenError::new("invalid_request", description)
            }
            ClientAuthError::Failed => TokenError::invalid_client(&realm.name),
        })?;
        match get("grant_type") {
            Some("authorization_code") => self.exchange_code(
                realm,
                client,
                get("code"),
                get("redirect_uri"),
                get("code_verifier"),
            ),
            Some(_) => Err(TokenError::new(
                "unsupported_grant_type",
                "only authorization_code is supported",
            )),
            None => Err(TokenError::new("invalid_request", "grant_type is required")),
        }
    }

    fn exchange_code(
        &self,
        realm: &RealmConfig,
        client: &ClientConfig,
        code: Option<&str>,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<TokenResponse, TokenError> {
        let invalid_grant = |description: &str| TokenError::new("invalid_grant", description);
        let code = code.ok_or_else(|| TokenError::new("invalid_request", "code is required"))?;
        let code_digest = digest(code);
        let now = self.clock.now();
        let stored = match self
            .store
            .redeem_authorization_code(&code_digest, now)
            .map_err(OidcError::from)?
        {
            CodeRedemption::Redeemed(stored) => stored,
            CodeRedemption::Replayed => {
                return Err(invalid_grant(
                    "the code was already used; tokens issued from it are revoked",
                ))
            }
            CodeRedemption::Invalid => return Err(invalid_grant("the code is invalid or expired")),
        };
        if stored.client_id != client.client_id || stored.realm != realm.name {
            return Err(invalid_grant("the code was issued to another client"));
        }
        if redirect_uri != Some(stored.redirect_uri.as_str()) {
            return Err(invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        match (&stored.code_challenge, verifier) {
            (Some(challenge), Some(verifier)) if pkce_matches(challenge, verifier) => {}
            (Some(_), _) => return Err(invalid_grant("PKCE verification failed")),
            // A verifier for a request that sent no challenge: someone is confused or lying.
            (None, Some(_)) => {
                return Err(invalid_grant(
                    "code_verifier sent but the request had no code_challenge",
                ))
            }
            (None, None) => {}
        }
        let session = self
            .store
            .find_sso_session(&stored.sso_session_id)
            .map_err(OidcError::from)?
            .filter(|s| self.sso_session_alive(realm, s))
            .ok_or_else(|| invalid_grant("the login session has ended"))?;
        let user = self
            .store
            .find_user(&stored.user_pk)
            .map_err(OidcError::from)?
            .filter(|u| u.enabled)
            .ok_or_else(|| invalid_grant("the member is not available"))?;
        let scopes: Vec<&str> = stored.scope.split(' ').filter(|s| !s.is_empty()).collect();
        let grant = Grant {
            realm,
            client,
            user: &user,
            session: &session,
            scopes: &scopes,
            nonce: stored.nonce.as_deref(),
        };
        let (access_token, expires_in) = self.mint_access_token(&grant, Some(&code_digest))?;
        let id_token = if scopes.contains(&"openid") {
            Some(self.mint_id_token(&grant, &access_token)?)
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            id_token,
            scope: stored.scope,
        })
    }

    fn mint_access_token(
        &self,
        grant: &Grant<'_>,
        code_digest: Option<&str>,
    ) -> Result<(String, i64), OidcError> {
        let now = self.clock.now();
        let lifetime = grant.realm.tokens.access_token_seconds;
        let jti = random_token();
        let claims = json!({
            "iss": self.issuer(&grant.realm.name),
            "sub": grant.user.id,
            "aud": grant.client.client_id,
            "azp": grant.client.client_id,
            "exp": now + lifetime,
            "iat": now,
            "jti": jti,
            "typ": "Bearer",
            "scope": grant.scopes.join(" "),
            "sid": grant.session.id,
            "auth_time": grant.session.auth_time,
        });
        let token = self.sign(
            &grant.realm.name,
            SigningAlgorithm::RS256,
            "at+jwt",
            &claims,
        )?;
        self.store.record_issued_token(&IssuedToken {
            jti,
            realm: grant.realm.name.clone(),
            kind: "access".into(),
            client_id: grant.client.client_id.clone(),
            user_pk: Some(grant.user.id.clone()),
            sso_session_id: Some(grant.session.id.clone()),
            code_digest: code_digest.map(str::to_string),
            scope: grant.scopes.join(" "),
            issued_at: now,
            expires_at: now + lifetime,
            revoked_at: None,
        })?;
        Ok((token, lifetime))
    }

    fn mint_id_token(&self, grant: &Grant<'_>, access_token: &str) -> Result<String, OidcError> {
        let now = self.clock.now();
        let algorithm = grant.client.id_token_signed_response_alg;
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer(&grant.realm.name)));
        claims.insert("sub".into(), json!(grant.user.id));
        claims.insert("aud".into(), json!(grant.client.client_id));
        claims.insert("azp".into(), json!(grant.client.client_id));
        claims.insert(
            "exp".into(),
            json!(now + grant.realm.tokens.access_token_seconds),
        );
        claims.insert("iat".into(), json!(now));
        claims.insert("auth_time".into(), json!(grant.session.auth_time));
        claims.insert("sid".into(), json!(grant.session.id));
        claims.insert("acr".into(), json!(grant.session.acr));
        let amr: Value = serde_json::from_str(&grant.session.amr).unwrap_or_else(|_| json!([]));
        claims.insert("amr".into(), amr);
        if let Some(nonce) = grant.nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        claims.insert(
            "at_hash".into(),
            json!(left_half_hash(algorithm, access_token)),
        );
        for (name, value) in scoped_claims(grant.user, grant.scopes) {
            claims.insert(name.into(), value);
        }
        self.sign(&grant.realm.name, algorithm, "JWT", &Value::Object(claims))
    }

    fn sign(
        &self,
        realm: &str,
        algorithm: SigningAlgorithm,
        typ: &str,
        claims: &Value,
    ) -> Result<String, OidcError> {
        let key = self.keys.signing_key(realm, algorithm)?;
        let mut header = Header::new(jwt_algorithm(algorithm));
        header.kid = Some(key.kid);
        header.typ = Some(typ.to_string());
        encode(&header, claims, &key.encoding)
            .map_err(|e| OidcError::Internal(format!("signing failed: {e}")))
    }
}

struct Grant<'a> {
    realm: &'a RealmConfig,
    client: &'a ClientConfig,
    user: &'a User,
    session: &'a SsoSession,
    scopes: &'a [&'a str],
    nonce: Option<&'a str>,
}

/// The member's claims each scope releases (ID token and userinfo alike).
pub(crate) fn scoped_claims(user: &User, scopes: &[&str]) -> Vec<(&'static str, Value)> {
    let mut claims = Vec::new();
    if scopes.contains(&"profile") {
        claims.push(("preferred_username", json!(user.user_id)));
        claims.push(("name", json!(user.display_name)));
    }
    if scopes.contains(&"email") {
        if let Some(email) = &user.email {
            claims.push(("email", json!(email)));
            claims.push(("email_verified", json!(user.email_verified)));
        }
    }
    claims
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the token's hash, with the hash that goes
/// with the signing algorithm (SHA-256 for RS256 and ES256).
fn left_half_hash(algorithm: SigningAlgorithm, token: &str) -> String {
    use base64::Engine;
    let hash = match algorithm {
        SigningAlgorithm::RS256 | SigningAlgorithm::ES256 => {
            ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        }
    };
    let bytes = hash.as_ref();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}
