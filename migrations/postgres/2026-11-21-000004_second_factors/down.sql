DROP TABLE otp_mail_codes;
