//! Rows as they are stored. Times are UTC without an offset in the database.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;

use super::schema::{events, prizes, users};
use crate::domain::claim::ClaimMode;
use crate::domain::count::ParticipantCount;
use crate::domain::event::{CancelReason, DrawMode, EventStatus};
use crate::domain::join_rules::JoinRules;

/// Microseconds: what MySQL's DATETIME(6) keeps, so both backends agree.
pub fn to_db_time(t: DateTime<Utc>) -> NaiveDateTime {
    t.trunc_subsecs(6).naive_utc()
}

pub fn from_db_time(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub openid: String,
    pub unionid: Option<String>,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: i64,
    pub creator_id: i64,
    pub title: String,
    pub description: String,
    pub status: EventStatus,
    pub draw_mode: DrawMode,
    pub draw_at: NaiveDateTime,
    pub max_participants: Option<i32>,
    pub participant_count: ParticipantCount,
    pub seed: Vec<u8>,
    pub seed_hash: String,
    pub created_at: NaiveDateTime,
    pub drawn_at: Option<NaiveDateTime>,
    pub cancelled_at: Option<NaiveDateTime>,
    pub claim_days: i16,
    pub claim_mode: ClaimMode,
    pub cancel_reason: Option<CancelReason>,
    /// The join password's keyed digest (`Keyring::digest`); never the
    /// password, never shown.
    pub join_password: Option<String>,
    pub group_only: bool,
    pub risk_check: bool,
    pub min_participants: Option<i32>,
    /// An uploaded image's id (`media`), shown once approved.
    pub cover_id: Option<String>,
    /// A beacon event's chain (hex chain hash); None: drawn from the seed
    /// alone.
    pub beacon_chain: Option<String>,
    /// Fixed when the draw starts: the round, the participants' hash and
    /// the instant (docs/FAIRNESS.md, "Beacon draws").
    pub beacon_round: Option<i64>,
    pub participants_hash: Option<String>,
    pub beacon_fixed_at: Option<NaiveDateTime>,
    /// The round's verified signature (hex), written with the draw.
    pub beacon_signature: Option<String>,
}

impl EventRow {
    /// Who may join, as the event view shows it.
    pub fn join_rules(&self) -> JoinRules {
        JoinRules {
            password: self.join_password.is_some(),
            group_only: self.group_only,
            risk_check: self.risk_check,
            min_participants: self.min_participants,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = prizes)]
pub struct PrizeRow {
    pub id: i64,
    pub event_id: i64,
    pub position: i32,
    pub name: String,
    pub quantity: i32,
    pub image_url: Option<String>,
    pub image_id: Option<String>,
}

/// One line of an event's participant list, in join order.
#[derive(Debug, Clone, Queryable)]
pub struct ParticipantEntry {
    /// The participation's own id: the list's paging position.
    pub position: i64,
    pub user_id: i64,
    pub nickname: Option<String>,
    pub joined_at: NaiveDateTime,
}

/// A winner with their name and prize.
#[derive(Debug, Clone, Queryable)]
pub struct WinnerEntry {
    pub user_id: i64,
    pub nickname: Option<String>,
    pub prize_id: i64,
    pub prize_name: String,
    /// 1 for the draw, k for the k-th re-draw.
    pub round: i16,
}
