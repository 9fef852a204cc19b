DROP TABLE email_verifications;
DROP TABLE first_login_progress;
DROP TABLE user_required_actions;
DROP TABLE terms_acceptances;
DROP TABLE terms_versions;
ALTER TABLE users DROP COLUMN second_factor_method;
