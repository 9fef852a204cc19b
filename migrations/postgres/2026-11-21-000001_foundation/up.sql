-- Monban's foundation schema. Timestamps are Unix seconds; identifiers are opaque text.
-- Secrets that travel (session cookies, codes) are stored only as SHA-256 digests.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,            -- the stable, opaque `sub`
    realm TEXT NOT NULL,
    user_id TEXT NOT NULL,                   -- lowercase; the member may change it
    display_name TEXT NOT NULL,
    email TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    birthdate TEXT,                          -- YYYY-MM-DD
    password_hash TEXT NOT NULL,
    temporary_id BOOLEAN NOT NULL DEFAULT FALSE,
    first_login_completed BOOLEAN NOT NULL DEFAULT FALSE,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_realm_user_id ON users (realm, user_id);
CREATE UNIQUE INDEX users_realm_email ON users (realm, email);

CREATE TABLE login_failures (
    user_pk TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    failures INTEGER NOT NULL,
    temporary_lockouts INTEGER NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until BIGINT,
    permanently_locked BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE auth_sessions (
    id TEXT PRIMARY KEY NOT NULL,            -- appears in the login form's URL
    browser_binding TEXT NOT NULL,           -- digest of the browser cookie this login belongs to
    realm TEXT NOT NULL,
    client_id TEXT NOT NULL,
    request TEXT NOT NULL,                   -- the validated authorization request (JSON)
    state TEXT NOT NULL,                     -- where the login stands (JSON)
    csrf_token TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX auth_sessions_expires ON auth_sessions (expires_at);

CREATE TABLE sso_sessions (
    id TEXT PRIMARY KEY NOT NULL,            -- the `sid` claim
    cookie_digest TEXT NOT NULL,
    realm TEXT NOT NULL,
    user_pk TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time BIGINT NOT NULL,
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,                       -- JSON array
    remember_me BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE UNIQUE INDEX sso_sessions_cookie ON sso_sessions (cookie_digest);
CREATE INDEX sso_sessions_user ON sso_sessions (user_pk);

CREATE TABLE authorization_codes (
    code_digest TEXT PRIMARY KEY NOT NULL,
    realm TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_pk TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sso_session_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT,
    auth_time BIGINT NOT NULL,
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE issued_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    realm TEXT NOT NULL,
    kind TEXT NOT NULL,                      -- access | refresh
    client_id TEXT NOT NULL,
    user_pk TEXT,
    sso_session_id TEXT,
    code_digest TEXT,                        -- the code it was issued from, to revoke on replay
    scope TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX issued_tokens_code ON issued_tokens (code_digest);
CREATE INDEX issued_tokens_sso ON issued_tokens (sso_session_id);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    realm TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    private_key BYTEA NOT NULL,               -- PKCS#8, sealed with the at-rest key
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    active BOOLEAN NOT NULL,
    retire_at BIGINT
);
CREATE INDEX signing_keys_realm ON signing_keys (realm);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    realm TEXT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    user_pk TEXT,
    client_id TEXT,
    ip TEXT,
    detail TEXT
);
CREATE INDEX audit_events_realm_at ON audit_events (realm, at);
