DROP TABLE client_assertions;
DROP TABLE backchannel_deliveries;
DROP TABLE logout_requests;
DROP TABLE sso_session_clients;
DROP TABLE refresh_tokens;
DROP INDEX issued_tokens_family;
ALTER TABLE issued_tokens DROP COLUMN family_id;
