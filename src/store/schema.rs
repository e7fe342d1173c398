// Written by hand: one schema serves both backends, so it only uses types
// that SQLite and MySQL map the same way (see the two migration folders).

diesel::table! {
    users (id) {
        id -> BigInt,
        openid -> Text,
        unionid -> Nullable<Text>,
        nickname -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        creator_id -> BigInt,
        title -> Text,
        description -> Text,
        status -> SmallInt,
        draw_mode -> SmallInt,
        draw_at -> Timestamp,
        max_participants -> Nullable<Integer>,
        participant_count -> Integer,
        seed -> Binary,
        seed_hash -> Text,
        created_at -> Timestamp,
        drawn_at -> Nullable<Timestamp>,
        cancelled_at -> Nullable<Timestamp>,
        owner_epoch -> BigInt,
        claim_days -> SmallInt,
        claim_mode -> SmallInt,
        cancel_reason -> Nullable<SmallInt>,
        rounds -> SmallInt,
        join_password -> Nullable<Text>,
        group_only -> Bool,
        risk_check -> Bool,
        min_participants -> Nullable<Integer>,
        cover_id -> Nullable<Text>,
        beacon_chain -> Nullable<Text>,
        beacon_round -> Nullable<BigInt>,
        participants_hash -> Nullable<Text>,
        beacon_fixed_at -> Nullable<Timestamp>,
        beacon_signature -> Nullable<Text>,
    }
}

diesel::table! {
    prizes (id) {
        id -> BigInt,
        event_id -> BigInt,
        position -> Integer,
        name -> Text,
        quantity -> Integer,
        image_url -> Nullable<Text>,
        image_id -> Nullable<Text>,
    }
}

diesel::table! {
    participants (id) {
        id -> BigInt,
        event_id -> BigInt,
        user_id -> BigInt,
        notify -> Bool,
        joined_at -> Timestamp,
        remind -> Bool,
    }
}

diesel::table! {
    winners (id) {
        id -> BigInt,
        event_id -> BigInt,
        user_id -> BigInt,
        prize_id -> BigInt,
        round -> SmallInt,
    }
}

diesel::table! {
    claims (winner_id) {
        winner_id -> BigInt,
        event_id -> BigInt,
        user_id -> BigInt,
        prize_id -> BigInt,
        round -> SmallInt,
        status -> SmallInt,
        claim_by -> Timestamp,
        details -> Nullable<Text>,
        carrier -> Nullable<Text>,
        tracking_no -> Nullable<Text>,
        claimed_at -> Nullable<Timestamp>,
        shipped_at -> Nullable<Timestamp>,
        received_at -> Nullable<Timestamp>,
        erased_at -> Nullable<Timestamp>,
        redrawn_in -> Nullable<SmallInt>,
    }
}

diesel::table! {
    notices (id) {
        id -> BigInt,
        event_id -> BigInt,
        user_id -> BigInt,
        kind -> SmallInt,
        state -> SmallInt,
        attempts -> Integer,
        due_at -> Timestamp,
        claim -> Nullable<BigInt>,
        error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    event_groups (event_id, opengid) {
        event_id -> BigInt,
        opengid -> Text,
        bound_at -> Timestamp,
    }
}

diesel::table! {
    join_tries (event_id, user_id) {
        event_id -> BigInt,
        user_id -> BigInt,
        wrong -> SmallInt,
    }
}

diesel::table! {
    media (id) {
        id -> Text,
        owner_id -> BigInt,
        status -> SmallInt,
        format -> Text,
        width -> Integer,
        height -> Integer,
        bytes -> Integer,
        thumb_bytes -> Integer,
        trace_id -> Nullable<Text>,
        label -> Nullable<Integer>,
        tries -> SmallInt,
        created_at -> Timestamp,
        checked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idempotency_keys (user_id, idem_key) {
        user_id -> BigInt,
        idem_key -> Text,
        request_digest -> Text,
        attempt -> BigInt,
        event_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notice_fanouts (id) {
        id -> BigInt,
        event_id -> BigInt,
        kind -> SmallInt,
        after_participant -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::joinable!(events -> users (creator_id));
diesel::joinable!(event_groups -> events (event_id));
diesel::joinable!(prizes -> events (event_id));
diesel::joinable!(participants -> users (user_id));
diesel::joinable!(winners -> users (user_id));
diesel::joinable!(winners -> prizes (prize_id));
diesel::joinable!(notices -> users (user_id));
diesel::joinable!(notices -> events (event_id));
diesel::joinable!(claims -> users (user_id));
diesel::joinable!(claims -> prizes (prize_id));
diesel::joinable!(claims -> events (event_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    events,
    prizes,
    participants,
    winners,
    notices,
    notice_fanouts,
    claims,
    event_groups,
    join_tries,
    media,
    idempotency_keys
);
