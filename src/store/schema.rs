//! Diesel table definitions, identical for both backends.

diesel::table! {
    api_tokens (id) {
        id -> Text,
        name -> Text,
        scope -> Text,
        token_hash -> Text,
        hint -> Text,
        created_by -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> BigInt,
        actor -> Text,
        action -> Text,
        resource_type -> Text,
        resource_id -> Text,
        details -> Text,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        name -> Text,
        active -> Bool,
        config -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    events (id) {
        id -> Text,
        event_type -> Text,
        subject -> Nullable<Text>,
        occurred_at -> BigInt,
        payload -> Text,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Text,
        event_id -> Text,
        webhook_id -> Text,
        status -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        next_attempt_at -> BigInt,
        lease_owner -> Nullable<Text>,
        initiated_by -> Text,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    delivery_attempts (delivery_id, attempt) {
        delivery_id -> Text,
        attempt -> Integer,
        initiated_by -> Text,
        started_at -> BigInt,
        duration_ms -> BigInt,
        outcome -> Text,
        request -> Text,
        response -> Nullable<Text>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    incidents (id) {
        id -> Text,
        number -> BigInt,
        title -> Text,
        description -> Text,
        severity -> Text,
        status -> Text,
        dedup_key -> Nullable<Text>,
        source -> Text,
        attributes -> Text,
        forwarded_to -> Text,
        occurrences -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
        acknowledged_at -> Nullable<BigInt>,
        resolved_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    incident_timeline (id) {
        id -> Text,
        incident_id -> Text,
        at -> BigInt,
        intent -> Text,
        message -> Text,
        actor -> Text,
        changes -> Text,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    answer_patches (delivery_id) {
        delivery_id -> Text,
        incident_id -> Text,
        applied_at -> BigInt,
    }
}

diesel::table! {
    triggers (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        enabled -> Bool,
        config -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    reply_links (id_hash) {
        id_hash -> Text,
        trigger_id -> Text,
        conversation -> Text,
        uses -> Integer,
        expires_at -> BigInt,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
        updated_by -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    schedules (id) {
        id -> Text,
        name -> Text,
        webhook_id -> Text,
        enabled -> Bool,
        config -> Text,
        next_due_at -> Nullable<BigInt>,
        last_fired_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    schedule_runs (id) {
        id -> Text,
        schedule_id -> Text,
        due_at -> BigInt,
        fired_at -> BigInt,
        manual -> Bool,
        missed -> BigInt,
        event_id -> Text,
    }
}

diesel::table! {
    sources (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        enabled -> Bool,
        config -> Text,
        token_hash -> Nullable<Text>,
        token_hint -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    source_requests (id) {
        id -> Text,
        source_id -> Text,
        received_at -> BigInt,
        method -> Text,
        headers -> Text,
        body -> Text,
        body_truncated -> Bool,
        outcome -> Text,
    }
}

diesel::table! {
    chat_exchanges (id) {
        id -> Text,
        trigger_id -> Nullable<Text>,
        received_at -> BigInt,
        outcome -> Text,
        record -> Text,
    }
}

diesel::table! {
    ui_sessions (id_hash) {
        id_hash -> Text,
        credential_hash -> Text,
        csrf_token -> Text,
        created_at -> BigInt,
        last_used_at -> BigInt,
    }
}

diesel::joinable!(incident_timeline -> incidents (incident_id));
diesel::joinable!(source_requests -> sources (source_id));
diesel::joinable!(schedule_runs -> schedules (schedule_id));
diesel::joinable!(deliveries -> events (event_id));
diesel::joinable!(deliveries -> webhooks (webhook_id));
diesel::joinable!(delivery_attempts -> deliveries (delivery_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_tokens,
    audit_log,
    ui_sessions,
    webhooks,
    events,
    deliveries,
    delivery_attempts,
    vars,
    incidents,
    incident_timeline,
    counters,
    answer_patches,
    triggers,
    reply_links,
    settings,
    schedules,
    schedule_runs,
    sources,
    source_requests,
    chat_exchanges,
    secret_keys,
);

diesel::table! {
    vars (key) {
        key -> Text,
        value -> Text,
        updated_by -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    secret_keys (key_id) {
        key_id -> Text,
        recorded_at -> BigInt,
    }
}
