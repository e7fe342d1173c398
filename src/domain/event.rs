//! The event state machine and the rules that decide joins, leaves, cancels
//! and draws. Statuses keep the seed's numbers in the database.

use chrono::{DateTime, Utc};

use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;

use crate::domain::count::ParticipantCount;
use crate::error::AppError;

/// Stored as SMALLINT (`store::types` maps it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, AsExpression, FromSqlRow, utoipa::ToSchema)]
#[diesel(sql_type = diesel::sql_types::SmallInt)]
#[schema(rename_all = "snake_case", description = "An event's status.")]
pub enum EventStatus {
    Open,
    Drawing,
    Drawn,
    Cancelled,
}

impl EventStatus {
    pub fn from_db(value: i16) -> Option<Self> {
        match value {
            0 => Some(Self::Open),
            1 => Some(Self::Drawing),
            2 => Some(Self::Drawn),
            9 => Some(Self::Cancelled),
            _ => None,
        }
    }

    pub fn to_db(self) -> i16 {
        *self.db_value()
    }

    /// The stored number, borrowed for as long as diesel needs it.
    pub fn db_value(self) -> &'static i16 {
        match self {
            Self::Open => &0,
            Self::Drawing => &1,
            Self::Drawn => &2,
            Self::Cancelled => &9,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Drawing => "drawing",
            Self::Drawn => "drawn",
            Self::Cancelled => "cancelled",
        }
    }

    /// Live events are the ones an actor serves: joins, leaves or a draw may
    /// still change them.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Open | Self::Drawing)
    }
}

/// Stored as SMALLINT (`store::types` maps it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, AsExpression, FromSqlRow, utoipa::ToSchema)]
#[diesel(sql_type = diesel::sql_types::SmallInt)]
#[schema(
    rename_all = "snake_case",
    description = "When an event draws: at `draw_at`, once full, or when its creator asks."
)]
pub enum DrawMode {
    AtTime,
    WhenFull,
    Manual,
}

impl DrawMode {
    pub fn from_db(value: i16) -> Option<Self> {
        match value {
            0 => Some(Self::AtTime),
            1 => Some(Self::WhenFull),
            2 => Some(Self::Manual),
            _ => None,
        }
    }

    pub fn to_db(self) -> i16 {
        *self.db_value()
    }

    /// The stored number, borrowed for as long as diesel needs it.
    pub fn db_value(self) -> &'static i16 {
        match self {
            Self::AtTime => &0,
            Self::WhenFull => &1,
            Self::Manual => &2,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "at_time" => Some(Self::AtTime),
            "when_full" => Some(Self::WhenFull),
            "manual" => Some(Self::Manual),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AtTime => "at_time",
            Self::WhenFull => "when_full",
            Self::Manual => "manual",
        }
    }
}

/// Why a cancelled event was cancelled. Stored as SMALLINT (`store::types`
/// maps it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, AsExpression, FromSqlRow, utoipa::ToSchema)]
#[diesel(sql_type = diesel::sql_types::SmallInt)]
#[schema(rename_all = "snake_case", description = "Why an event was cancelled.")]
pub enum CancelReason {
    /// Its creator cancelled it before the draw.
    Creator,
    /// The draw found fewer than `min_participants`.
    TooFewParticipants,
}

impl CancelReason {
    pub fn from_db(value: i16) -> Option<Self> {
        match value {
            0 => Some(Self::Creator),
            1 => Some(Self::TooFewParticipants),
            _ => None,
        }
    }

    /// The stored number, borrowed for as long as diesel needs it.
    pub fn db_value(self) -> &'static i16 {
        match self {
            Self::Creator => &0,
            Self::TooFewParticipants => &1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creator => "creator",
            Self::TooFewParticipants => "too_few_participants",
        }
    }
}

/// Joining and leaving are accepted only while the event is open and its
/// draw time has not come.
pub fn check_membership_change(
    status: EventStatus,
    draw_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    match status {
        EventStatus::Open if now < draw_at => Ok(()),
        EventStatus::Open | EventStatus::Drawing | EventStatus::Drawn => Err(
            AppError::EventClosed("the event is closed: its draw has started".into()),
        ),
        EventStatus::Cancelled => Err(AppError::EventClosed("the event is cancelled".into())),
    }
}

/// A new participant is refused once `max_participants` is reached.
pub fn check_capacity(
    current: ParticipantCount,
    max_participants: Option<i32>,
) -> Result<(), AppError> {
    match max_participants {
        Some(max) if current.reaches(max) => Err(AppError::EventFull(format!(
            "the event is full: max_participants is {max}"
        ))),
        _ => Ok(()),
    }
}

/// Whether this join filled a `when_full` event, which starts its draw.
pub fn is_filled(mode: DrawMode, count: ParticipantCount, max_participants: Option<i32>) -> bool {
    mode == DrawMode::WhenFull && max_participants.is_some_and(|max| count.reaches(max))
}

/// A user may hold `max` events open (not yet drawn or cancelled) at once:
/// one account cannot fill the server with events, each of which also
/// costs a WeChat content check.
pub fn check_open_quota(open: i64, max: u32) -> Result<(), AppError> {
    if open >= i64::from(max) {
        return Err(AppError::InvalidState(format!(
            "you have {open} open events, the most one user may have \
             (LOTTERY_MAX_OPEN_EVENTS_PER_USER); draw or cancel one first"
        )));
    }
    Ok(())
}

pub fn check_creator(creator_id: i64, caller: i64) -> Result<(), AppError> {
    if creator_id == caller {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "only the event's creator may do this".into(),
        ))
    }
}

/// An open event may be cancelled until its draw time; from then on it is
/// drawn, whether or not the draw has started yet.
pub fn check_cancel(
    status: EventStatus,
    draw_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    match status {
        EventStatus::Open if now < draw_at => Ok(()),
        EventStatus::Open => Err(AppError::InvalidState(
            "the draw time has passed: the event is being drawn and can no longer be cancelled"
                .into(),
        )),
        other => Err(not_cancellable(other)),
    }
}

pub fn not_cancellable(status: EventStatus) -> AppError {
    AppError::InvalidState(format!(
        "only an open event can be cancelled; this one is {}",
        status.as_str()
    ))
}

pub fn check_manual_draw(mode: DrawMode, status: EventStatus) -> Result<(), AppError> {
    if mode != DrawMode::Manual {
        return Err(AppError::InvalidState(format!(
            "only manual events are drawn by their creator; this one is {}",
            mode.as_str()
        )));
    }
    match status {
        EventStatus::Open => Ok(()),
        other => Err(AppError::InvalidState(format!(
            "only an open event can be drawn; this one is {}",
            other.as_str()
        ))),
    }
}

/// Results (winners, fairness data) exist only once the event is drawn.
pub fn check_results_published(status: EventStatus) -> Result<(), AppError> {
    if status == EventStatus::Drawn {
        Ok(())
    } else {
        Err(AppError::InvalidState(format!(
            "the event is not drawn yet; it is {}",
            status.as_str()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(count: usize) -> ParticipantCount {
        ParticipantCount::of(count)
    }
    use chrono::Duration;

    #[test]
    fn statuses_round_trip_through_their_database_numbers() {
        for s in [
            EventStatus::Open,
            EventStatus::Drawing,
            EventStatus::Drawn,
            EventStatus::Cancelled,
        ] {
            assert_eq!(EventStatus::from_db(s.to_db()), Some(s));
        }
        assert_eq!(EventStatus::Cancelled.to_db(), 9);
        assert_eq!(EventStatus::from_db(3), None);
    }

    #[test]
    fn joins_close_at_draw_time_and_on_every_non_open_status() {
        let now = Utc::now();
        let later = now + Duration::seconds(10);
        assert!(check_membership_change(EventStatus::Open, later, now).is_ok());
        assert_eq!(
            check_membership_change(EventStatus::Open, now, now)
                .unwrap_err()
                .code(),
            40900
        );
        for s in [
            EventStatus::Drawing,
            EventStatus::Drawn,
            EventStatus::Cancelled,
        ] {
            assert_eq!(
                check_membership_change(s, later, now).unwrap_err().code(),
                40900
            );
        }
    }

    #[test]
    fn capacity_and_when_full() {
        assert!(check_capacity(n(9), Some(10)).is_ok());
        assert_eq!(check_capacity(n(10), Some(10)).unwrap_err().code(), 40902);
        assert!(check_capacity(n(1_000_000), None).is_ok());
        assert!(is_filled(DrawMode::WhenFull, n(10), Some(10)));
        assert!(!is_filled(DrawMode::AtTime, n(10), Some(10)));
        assert!(!is_filled(DrawMode::WhenFull, n(9), Some(10)));
    }

    #[test]
    fn creator_only_and_state_checks() {
        assert!(check_creator(1, 1).is_ok());
        assert_eq!(check_creator(1, 2).unwrap_err().code(), 40300);
        let now = Utc::now();
        let later = now + Duration::seconds(1);
        assert!(check_cancel(EventStatus::Open, later, now).is_ok());
        assert_eq!(
            check_cancel(EventStatus::Open, now, now)
                .unwrap_err()
                .code(),
            40901,
            "at draw_at the event is drawn, not cancelled"
        );
        assert_eq!(
            check_cancel(EventStatus::Drawn, later, now)
                .unwrap_err()
                .code(),
            40901
        );
        assert!(check_manual_draw(DrawMode::Manual, EventStatus::Open).is_ok());
        assert_eq!(
            check_manual_draw(DrawMode::AtTime, EventStatus::Open)
                .unwrap_err()
                .code(),
            40901
        );
        assert_eq!(
            check_results_published(EventStatus::Open)
                .unwrap_err()
                .code(),
            40901
        );
    }
}
