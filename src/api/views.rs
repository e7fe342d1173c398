//! What the API answers, shaped as the contract writes it.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::media_views::ImageView;
use crate::domain::beacon_draw::{randomness_of, BeaconRecord};
use crate::domain::claim::{ClaimMode, ClaimStatus};
use crate::domain::count::ParticipantCount;
use crate::domain::draw::ALGORITHM;
use crate::domain::event::{CancelReason, DrawMode, EventStatus};
use crate::domain::join_rules::JoinRules;
use crate::media::urls::MediaUrls;
use crate::store::events::{EventRecord, ViewerState};
use crate::store::models::{from_db_time, EventRow, UserRow};

pub fn time(t: NaiveDateTime) -> String {
    rfc3339(from_db_time(t))
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    #[schema(required)]
    pub nickname: Option<String>,
    #[schema(required)]
    pub avatar_url: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<UserRow> for UserView {
    fn from(u: UserRow) -> Self {
        Self {
            id: u.id,
            nickname: u.nickname,
            avatar_url: u.avatar_url,
            created_at: time(u.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserRef {
    pub id: i64,
    #[schema(required)]
    pub nickname: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PrizeRef {
    pub id: i64,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct PrizeView {
    pub id: i64,
    pub name: String,
    pub quantity: i32,
    #[schema(required)]
    pub image_url: Option<String>,
    /// The prize's uploaded picture, once WeChat approved it.
    #[schema(required)]
    pub image: Option<ImageView>,
}

#[derive(Serialize, ToSchema)]
pub struct Fairness {
    #[schema(value_type = String, example = "sha256-fisher-yates-v1")]
    pub algorithm: &'static str,
    pub seed_hash: String,
    /// Hidden until the draw: it decides the winners.
    #[schema(required)]
    pub seed: Option<String>,
    /// A beacon event's draw (docs/FAIRNESS.md, "Beacon draws"): null while
    /// open and for events drawn from the seed alone; from the instant the
    /// draw starts the participants' hash and the round, then the round's
    /// randomness and signature once fetched.
    #[schema(required)]
    pub beacon: Option<BeaconRecord>,
}

/// A beacon event's draw as far as it has gone: None until its list is
/// fixed.
pub fn beacon_of(e: &EventRow) -> Option<BeaconRecord> {
    let signature = e.beacon_signature.clone();
    Some(BeaconRecord {
        chain_hash: e.beacon_chain.clone()?,
        round: e.beacon_round? as u64,
        randomness: signature
            .as_deref()
            .and_then(|hex| hex::decode(hex).ok())
            .map(|bytes| hex::encode(randomness_of(&bytes))),
        signature,
        participants_hash: e.participants_hash.clone()?,
        fixed_at: time(e.beacon_fixed_at?),
    })
}

#[derive(Serialize, ToSchema)]
pub struct MeView {
    pub joined: bool,
    #[schema(required)]
    pub prize: Option<PrizeRef>,
    /// The caller's claim on their prize: only in `/me/events?role=won`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim: Option<MyClaim>,
}

/// Where the caller's claim stands.
#[derive(Serialize, ToSchema)]
pub struct MyClaim {
    /// `unclaimed`, `claimed`, `shipped`, `received` or `expired`.
    #[schema(value_type = ClaimStatus, example = "unclaimed")]
    pub status: &'static str,
    #[schema(format = DateTime)]
    pub claim_by: String,
}

/// What a joiner must show or meet.
#[derive(Serialize, ToSchema)]
pub struct JoinRulesView {
    /// A password (口令) is required.
    pub password: bool,
    /// Only members of the WeChat groups it was shared in may join.
    pub group_only: bool,
    /// Accounts WeChat rates as likely fraud are refused.
    pub risk_check: bool,
    /// Fewer participants at the draw cancel the event.
    #[schema(required)]
    pub min_participants: Option<i32>,
}

impl From<JoinRules> for JoinRulesView {
    fn from(r: JoinRules) -> Self {
        Self {
            password: r.password,
            group_only: r.group_only,
            risk_check: r.risk_check,
            min_participants: r.min_participants,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub creator: UserRef,
    /// `open`, `drawing`, `drawn` or `cancelled`.
    #[schema(value_type = EventStatus, example = "open")]
    pub status: &'static str,
    /// `at_time`, `when_full` or `manual`.
    #[schema(value_type = DrawMode, example = "at_time")]
    pub draw_mode: &'static str,
    /// RFC 3339, UTC.
    #[schema(format = DateTime, example = "2026-12-01T12:00:00Z")]
    pub draw_at: String,
    #[schema(required)]
    pub max_participants: Option<i32>,
    #[schema(value_type = i32)]
    pub participant_count: ParticipantCount,
    pub prizes: Vec<PrizeView>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime, required)]
    pub drawn_at: Option<String>,
    #[schema(format = DateTime, required)]
    pub cancelled_at: Option<String>,
    /// Why a cancelled event was: `creator` or `too_few_participants`;
    /// null otherwise.
    #[schema(value_type = Option<CancelReason>, required, example = "creator")]
    pub cancel_reason: Option<&'static str>,
    /// Days winners have to claim their prizes after the draw.
    pub claim_days: i16,
    /// `address` or `contact`: what winners give to claim.
    #[schema(value_type = ClaimMode, example = "address")]
    pub claim_mode: &'static str,
    /// Who may join (never the password itself).
    pub join_rules: JoinRulesView,
    /// The uploaded cover picture, once WeChat approved it.
    #[schema(required)]
    pub cover: Option<ImageView>,
    pub fairness: Fairness,
    /// The caller's participation; null without a token.
    #[schema(required)]
    pub me: Option<MeView>,
}

impl EventView {
    pub fn new(record: EventRecord, viewer: Option<&ViewerState>, urls: &MediaUrls) -> Self {
        let image = |id: Option<&String>| {
            let id = id?;
            let row = record.images.iter().find(|m| &m.id == id)?;
            ImageView::shown(row, urls)
        };
        let cover = image(record.event.cover_id.as_ref());
        let prizes = record
            .prizes
            .iter()
            .map(|p| PrizeView {
                id: p.id,
                name: p.name.clone(),
                quantity: p.quantity,
                image_url: p.image_url.clone(),
                image: image(p.image_id.as_ref()),
            })
            .collect();
        let e = record.event;
        let join_rules = e.join_rules().into();
        let beacon = beacon_of(&e);
        let me = viewer.map(|v| MeView {
            joined: v.joined.contains(&e.id),
            prize: v.prizes.get(&e.id).map(|(id, name)| PrizeRef {
                id: *id,
                name: name.clone(),
            }),
            claim: None,
        });
        Self {
            id: e.id,
            title: e.title,
            description: e.description,
            creator: UserRef {
                id: e.creator_id,
                nickname: record.creator_nickname,
            },
            status: e.status.as_str(),
            draw_mode: e.draw_mode.as_str(),
            draw_at: time(e.draw_at),
            max_participants: e.max_participants,
            participant_count: e.participant_count,
            prizes,
            created_at: time(e.created_at),
            drawn_at: e.drawn_at.map(time),
            cancelled_at: e.cancelled_at.map(time),
            cancel_reason: e.cancel_reason.map(CancelReason::as_str),
            claim_days: e.claim_days,
            claim_mode: e.claim_mode.as_str(),
            join_rules,
            cover,
            fairness: Fairness {
                algorithm: ALGORITHM,
                seed_hash: e.seed_hash,
                seed: (e.status == EventStatus::Drawn).then(|| hex::encode(&e.seed)),
                beacon,
            },
            me,
        }
    }
}
