-- Enrolled second factors (SPEC §4): passkeys and OTP-app devices, each with the name the member
-- gave it (unique per member), and the short-lived state a step keeps between the pages of one
-- login (a WebAuthn challenge, an OTP secret being set up) — server-side only, never in the form.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY NOT NULL,
    user_pk TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,      -- base64url; one credential belongs to one member
    credential TEXT NOT NULL,                -- webauthn-rs credential (public key, sign counter), JSON
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    UNIQUE (user_pk, name)
);

CREATE TABLE otp_devices (
    id TEXT PRIMARY KEY NOT NULL,
    user_pk TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret BLOB NOT NULL,                   -- the TOTP key, sealed with the at-rest key
    algorithm TEXT NOT NULL,                 -- SHA1, SHA256, SHA512: as set up in the app
    digits INTEGER NOT NULL,
    period INTEGER NOT NULL,
    last_used_step BIGINT NOT NULL,          -- the time step of the last accepted code: replays refused
    created_at BIGINT NOT NULL,
    UNIQUE (user_pk, name)
);

CREATE TABLE login_step_state (
    auth_session_id TEXT NOT NULL,
    step TEXT NOT NULL,
    data BLOB NOT NULL,                     -- sealed with the at-rest key
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (auth_session_id, step)
);
CREATE INDEX login_step_state_expires ON login_step_state (expires_at);
