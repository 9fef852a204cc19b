DROP TABLE login_step_state;
DROP TABLE otp_devices;
DROP TABLE passkeys;
