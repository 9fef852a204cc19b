//! Diesel's view of the tables; kept by hand in step with `migrations/`.

diesel::table! {
    users (id) {
        id -> Text,
        realm -> Text,
        user_id -> Text,
        display_name -> Text,
        email -> Nullable<Text>,
        email_verified -> Bool,
        birthdate -> Nullable<Text>,
        password_hash -> Text,
        temporary_id -> Bool,
        first_login_completed -> Bool,
        enabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        second_factor_method -> Nullable<Text>,
    }
}

diesel::table! {
    terms_versions (realm, version) {
        realm -> Text,
        version -> Integer,
        body -> Text,
        published_at -> BigInt,
    }
}

diesel::table! {
    terms_acceptances (user_pk, version) {
        user_pk -> Text,
        version -> Integer,
        accepted_at -> BigInt,
    }
}

diesel::table! {
    user_required_actions (user_pk, action) {
        user_pk -> Text,
        action -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    first_login_progress (user_pk, action) {
        user_pk -> Text,
        action -> Text,
        done_at -> BigInt,
    }
}

diesel::table! {
    otp_mail_codes (user_pk) {
        user_pk -> Text,
        code_digest -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        attempts -> Integer,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    email_verifications (token_digest) {
        token_digest -> Text,
        user_pk -> Text,
        email -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    login_failures (user_pk) {
        user_pk -> Text,
        failures -> Integer,
        temporary_lockouts -> Integer,
        last_failure_at -> BigInt,
        locked_until -> Nullable<BigInt>,
        permanently_locked -> Bool,
    }
}

diesel::table! {
    auth_sessions (id) {
        id -> Text,
        browser_binding -> Text,
        realm -> Text,
        client_id -> Text,
        request -> Text,
        state -> Text,
        csrf_token -> Text,
        version -> Integer,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    sso_sessions (id) {
        id -> Text,
        cookie_digest -> Text,
        realm -> Text,
        user_pk -> Text,
        auth_time -> BigInt,
        acr -> Text,
        amr -> Text,
        remember_me -> Bool,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        ended_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    authorization_codes (code_digest) {
        code_digest -> Text,
        realm -> Text,
        client_id -> Text,
        user_pk -> Text,
        sso_session_id -> Text,
        redirect_uri -> Text,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        auth_time -> BigInt,
        acr -> Text,
        amr -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        claims -> Nullable<Text>,
    }
}

diesel::table! {
    issued_tokens (jti) {
        jti -> Text,
        realm -> Text,
        kind -> Text,
        client_id -> Text,
        user_pk -> Nullable<Text>,
        sso_session_id -> Nullable<Text>,
        code_digest -> Nullable<Text>,
        scope -> Text,
        issued_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        family_id -> Nullable<Text>,
        claims -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_digest) {
        token_digest -> Text,
        family_id -> Text,
        realm -> Text,
        client_id -> Text,
        user_pk -> Text,
        sso_session_id -> Text,
        offline -> Bool,
        scope -> Text,
        auth_time -> BigInt,
        acr -> Text,
        amr -> Text,
        claims -> Nullable<Text>,
        issued_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sso_session_clients (sso_session_id, client_id) {
        sso_session_id -> Text,
        client_id -> Text,
    }
}

diesel::table! {
    logout_requests (id) {
        id -> Text,
        browser_binding -> Text,
        realm -> Text,
        client_id -> Nullable<Text>,
        post_logout_redirect_uri -> Nullable<Text>,
        expires_at -> BigInt,
    }
}

diesel::table! {
    backchannel_deliveries (id) {
        id -> Text,
        realm -> Text,
        client_id -> Text,
        sso_session_id -> Text,
        user_pk -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        delivered_at -> Nullable<BigInt>,
        abandoned_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    client_assertions (digest) {
        digest -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        realm -> Text,
        algorithm -> Text,
        private_key -> Binary,
        public_jwk -> Text,
        created_at -> BigInt,
        active -> Bool,
        retire_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        realm -> Text,
        at -> BigInt,
        kind -> Text,
        user_pk -> Nullable<Text>,
        client_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        user_pk -> Text,
        name -> Text,
        credential_id -> Text,
        credential -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    otp_devices (id) {
        id -> Text,
        user_pk -> Text,
        name -> Text,
        secret -> Binary,
        algorithm -> Text,
        digits -> Integer,
        period -> Integer,
        last_used_step -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    login_step_state (auth_session_id, step) {
        auth_session_id -> Text,
        step -> Text,
        data -> Binary,
        expires_at -> BigInt,
    }
}

diesel::table! {
    rate_limit_hits (bucket, window_start) {
        bucket -> Text,
        window_start -> BigInt,
        hits -> Integer,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    login_failures,
    auth_sessions,
    sso_sessions,
    authorization_codes,
    issued_tokens,
    signing_keys,
    audit_events,
    refresh_tokens,
    sso_session_clients,
    logout_requests,
    backchannel_deliveries,
    client_assertions,
    terms_versions,
    terms_acceptances,
    user_required_actions,
    email_verifications,
    first_login_progress,
    otp_mail_codes,
    passkeys,
    otp_devices,
    login_step_state,
    rate_limit_hits,
);
