-- The full provider: refresh tokens with rotation, the clients of each SSO session (for
-- back-channel logout), pending logout confirmations, back-channel deliveries, and spent
-- client assertions (private_key_jwt replay protection).

ALTER TABLE issued_tokens ADD COLUMN family_id TEXT;
-- Claims the client asked for by name (OIDC Core §5.5), released beyond what the scopes give.
ALTER TABLE issued_tokens ADD COLUMN claims TEXT;
ALTER TABLE authorization_codes ADD COLUMN claims TEXT;
-- Only S256 is accepted, so the method need not be stored.
ALTER TABLE authorization_codes DROP COLUMN code_challenge_method;
CREATE INDEX issued_tokens_family ON issued_tokens (family_id);

CREATE TABLE refresh_tokens (
    token_digest TEXT PRIMARY KEY NOT NULL,
    family_id TEXT NOT NULL,                 -- every rotation of one grant shares it
    realm TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_pk TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sso_session_id TEXT NOT NULL,
    offline BOOLEAN NOT NULL,                -- offline_access: outlives the SSO session
    scope TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,
    claims TEXT,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,                          -- rotated: presenting it again is reuse
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_sso ON refresh_tokens (sso_session_id);

CREATE TABLE sso_session_clients (
    sso_session_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    PRIMARY KEY (sso_session_id, client_id)
);

CREATE TABLE logout_requests (
    id TEXT PRIMARY KEY NOT NULL,
    browser_binding TEXT NOT NULL,
    realm TEXT NOT NULL,
    client_id TEXT,
    post_logout_redirect_uri TEXT,        -- with the client's state appended
    expires_at BIGINT NOT NULL
);

CREATE TABLE backchannel_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    realm TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sso_session_id TEXT NOT NULL,
    user_pk TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    delivered_at BIGINT,
    abandoned_at BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX backchannel_deliveries_due ON backchannel_deliveries (next_attempt_at);

CREATE TABLE client_assertions (
    digest TEXT PRIMARY KEY NOT NULL,        -- of realm, client and jti
    expires_at BIGINT NOT NULL
);
