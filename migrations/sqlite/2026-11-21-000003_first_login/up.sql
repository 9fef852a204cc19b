-- The first-login set-up: the member's chosen second factor, terms of use and who accepted
-- which version, required actions set by an admin, and email-verification links.

-- 'passkey', 'otp-app' or 'otp-mail' once the member chose (user-id-and-method).
ALTER TABLE users ADD COLUMN second_factor_method TEXT;

CREATE TABLE terms_versions (
    realm TEXT NOT NULL,
    version INTEGER NOT NULL,                -- 1, 2, …: the highest is in force
    body TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    PRIMARY KEY (realm, version)
);

CREATE TABLE terms_acceptances (
    user_pk TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    accepted_at BIGINT NOT NULL,
    PRIMARY KEY (user_pk, version)
);

-- Set by an admin (`monban user require-action`); cleared when the member has done it.
CREATE TABLE user_required_actions (
    user_pk TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_pk, action)
);

-- First-login steps a member has done while the set-up is unfinished, so a closed tab does
-- not make them start over; cleared when the first login completes.
CREATE TABLE first_login_progress (
    user_pk TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    done_at BIGINT NOT NULL,
    PRIMARY KEY (user_pk, action)
);

CREATE TABLE email_verifications (
    token_digest TEXT PRIMARY KEY NOT NULL,  -- SHA-256 of the link's key
    user_pk TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email TEXT NOT NULL,                     -- the address the link confirms
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX email_verifications_user ON email_verifications (user_pk);
