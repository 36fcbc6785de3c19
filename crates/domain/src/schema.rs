// The diesel schema shared by both backends; the SQL lives in /migrations/{postgres,sqlite}.
// Kept by hand in step with the migrations (the migration tests compare both).

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        email -> Nullable<Text>,
        password_hash -> Text,
        is_active -> Bool,
        is_admin -> Bool,
        date_joined -> Timestamp,
        last_login -> Nullable<Timestamp>,
        password_changed_at -> Timestamp,
        registered_by_request -> Nullable<Text>,
        email_verified -> Bool,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
        last_refreshed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (jti) {
        jti -> Text,
        session_id -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        replaced_by -> Nullable<Text>,
        retired_by_request -> Nullable<Text>,
    }
}

diesel::table! {
    login_failures (scope, subject) {
        scope -> Text,
        subject -> Text,
        window_start -> Timestamp,
        failures -> Integer,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> BigInt,
        user_id -> Nullable<BigInt>,
        kind -> Text,
        created_at -> Timestamp,
        message_key -> Text,
        attempts -> Integer,
        available_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        done_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    refresh_tokens,
    login_failures,
    mail_outbox
);
