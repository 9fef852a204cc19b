DROP TABLE audit_events;
DROP TABLE signing_keys;
DROP TABLE issued_tokens;
DROP TABLE authorization_codes;
DROP TABLE sso_sessions;
DROP TABLE auth_sessions;
DROP TABLE login_failures;
DROP TABLE users;
