-- Second factors (SPEC §4). One-time codes sent by mail: one live code per member; a new code
-- replaces the previous one. Codes are kept only as digests.
CREATE TABLE otp_mail_codes (
    user_pk TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_digest TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL,               -- wrong codes entered against this one
    used_at BIGINT
);
