//! A winner's claim on their prize (contract, "Winner claims"): its states,
//! who may move it where and until when, and what its details must look
//! like. Pure: the caller passes the time; sealing the details is `pii`'s.
//!
//! ```text
//! unclaimed ──details──► claimed ──ship──► shipped ──received──► received
//!     │                   ▲  │ details again (until shipped or claim_by)
//!     └──claim_by──► expired  └─┘
//! ```
//!
//! A claim still unclaimed at `claim_by` is expired from that instant,
//! whether or not anything wrote it yet: `status_at` is what every answer
//! shows, so an expiry never depends on a sweep having run.

use chrono::{DateTime, Duration, Utc};
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use serde::Deserialize;

use crate::domain::text::{required_text, required_text_in, shown_text, trimmed_within, Lines};
use crate::error::AppError;

/// Days a winner has to claim, unless the event says otherwise.
pub const DEFAULT_CLAIM_DAYS: i64 = 7;
pub const CLAIM_DAYS: std::ops::RangeInclusive<i64> = 1..=90;

/// Stored as SMALLINT (`store::types` maps it). A stored `Expired` is a
/// claim whose prize went to a re-draw; an `Unclaimed` one past `claim_by`
/// shows as expired before that (`status_at`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, AsExpression, FromSqlRow, utoipa::ToSchema)]
#[diesel(sql_type = diesel::sql_types::SmallInt)]
#[schema(
    rename_all = "snake_case",
    description = "Where a winner's claim stands."
)]
pub enum ClaimStatus {
    Unclaimed,
    Claimed,
    Shipped,
    Received,
    Expired,
}

impl ClaimStatus {
    pub fn from_db(value: i16) -> Option<Self> {
        Some(match value {
            0 => Self::Unclaimed,
            1 => Self::Claimed,
            2 => Self::Shipped,
            3 => Self::Received,
            4 => Self::Expired,
            _ => return None,
        })
    }

    pub fn to_db(self) -> i16 {
        *self.db_value()
    }

    /// The stored number, borrowed for as long as diesel needs it.
    pub fn db_value(self) -> &'static i16 {
        match self {
            Self::Unclaimed => &0,
            Self::Claimed => &1,
            Self::Shipped => &2,
            Self::Received => &3,
            Self::Expired => &4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unclaimed => "unclaimed",
            Self::Claimed => "claimed",
            Self::Shipped => "shipped",
            Self::Received => "received",
            Self::Expired => "expired",
        }
    }
}

/// What a winner gives: where to ship, or how to reach them. Stored as
/// SMALLINT (`store::types` maps it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, AsExpression, FromSqlRow, utoipa::ToSchema)]
#[diesel(sql_type = diesel::sql_types::SmallInt)]
#[schema(
    rename_all = "snake_case",
    description = "What winners give to claim: an address, or a contact."
)]
pub enum ClaimMode {
    Address,
    Contact,
}

impl ClaimMode {
    pub fn from_db(value: i16) -> Option<Self> {
        match value {
            0 => Some(Self::Address),
            1 => Some(Self::Contact),
            _ => None,
        }
    }

    /// The stored number, borrowed for as long as diesel needs it.
    pub fn db_value(self) -> &'static i16 {
        match self {
            Self::Address => &0,
            Self::Contact => &1,
        }
    }

    pub fn parse(text: &str) -> Result<Self, AppError> {
        match text {
            "address" => Ok(Self::Address),
            "contact" => Ok(Self::Contact),
            _ => Err(AppError::InvalidArgument(
                "claim_mode must be address or contact".into(),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::Contact => "contact",
        }
    }
}

/// The `claim_days` of a new event (default 7).
pub fn validate_claim_days(days: Option<i64>) -> Result<i16, AppError> {
    match days {
        None => Ok(DEFAULT_CLAIM_DAYS as i16),
        Some(days) if CLAIM_DAYS.contains(&days) => Ok(days as i16),
        Some(_) => Err(AppError::InvalidArgument(
            "claim_days must be a whole number from 1 to 90".into(),
        )),
    }
}

/// When a claim's window closes: `claim_days` after the draw (or the
/// re-draw) that made its winner.
pub fn claim_by(won_at: DateTime<Utc>, claim_days: i64) -> DateTime<Utc> {
    won_at + Duration::days(claim_days)
}

/// When a winner who accepted the claim reminder gets it: a day before
/// `claim_by`, or half-way through a one-day window.
pub fn reminder_at(claim_by: DateTime<Utc>, claim_days: i64) -> DateTime<Utc> {
    if claim_days >= 2 {
        claim_by - Duration::days(1)
    } else {
        claim_by - Duration::hours(12)
    }
}

/// Days a claim's delivery details are kept once the prize is received
/// (or, if the winner never confirms, once it was shipped: `SHIPPED_KEEP_DAYS`).
pub const RECEIVED_KEEP_DAYS: i64 = 30;
pub const SHIPPED_KEEP_DAYS: i64 = 60;

/// The status a claim shows at `now`.
pub fn status_at(stored: ClaimStatus, claim_by: DateTime<Utc>, now: DateTime<Utc>) -> ClaimStatus {
    match stored {
        ClaimStatus::Unclaimed if now >= claim_by => ClaimStatus::Expired,
        other => other,
    }
}

fn window_closed(why: &str) -> AppError {
    AppError::ClaimClosed(format!("the claim can no longer be changed: {why}"))
}

/// Details may be given, and corrected, until the prize is shipped and
/// before `claim_by`.
pub fn check_details_change(
    stored: ClaimStatus,
    claim_by: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    match status_at(stored, claim_by, now) {
        ClaimStatus::Unclaimed | ClaimStatus::Claimed if now < claim_by => Ok(()),
        ClaimStatus::Unclaimed | ClaimStatus::Claimed | ClaimStatus::Expired => {
            Err(window_closed("its claim window has closed"))
        }
        ClaimStatus::Shipped | ClaimStatus::Received => {
            Err(window_closed("the prize is already shipped"))
        }
    }
}

/// The creator ships a claimed prize (only then: details are known).
pub fn check_ship(
    stored: ClaimStatus,
    claim_by: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    match status_at(stored, claim_by, now) {
        ClaimStatus::Claimed => Ok(()),
        other => Err(AppError::InvalidState(format!(
            "only a claimed prize can be shipped; this claim is {}",
            other.as_str()
        ))),
    }
}

/// The winner confirms a shipped prize arrived.
pub fn check_received(stored: ClaimStatus) -> Result<(), AppError> {
    match stored {
        ClaimStatus::Shipped => Ok(()),
        other => Err(AppError::InvalidState(format!(
            "only a shipped prize can be confirmed received; this claim is {}",
            other.as_str()
        ))),
    }
}

/// Personal data is never printed, not even by `{:?}` in a log line or a
/// failed assertion: only which fields are there.
macro_rules! redacted_debug {
    ($ty:ty, $name:literal) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!($name, " { .. }"))
            }
        }
    };
}

/// `PUT …/claim` as sent; which fields count depends on the event's mode.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailsDraft {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub contact: Option<String>,
    pub note: Option<String>,
}

redacted_debug!(DetailsDraft, "DetailsDraft");

/// A winner's details, checked: what is sealed and stored.
#[derive(Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(untagged)]
pub enum Details {
    Address {
        name: String,
        phone: String,
        address: String,
        note: String,
    },
    Contact {
        contact: String,
        note: String,
    },
}

redacted_debug!(Details, "Details");

fn not_in_mode(field: &str, value: &Option<String>, mode: ClaimMode) -> Result<(), AppError> {
    match value {
        Some(_) => Err(AppError::InvalidArgument(format!(
            "{field} is not asked in {} mode",
            mode.as_str()
        ))),
        None => Ok(()),
    }
}

pub fn validate_details(mode: ClaimMode, draft: DetailsDraft) -> Result<Details, AppError> {
    let note = match draft.note {
        Some(note) => {
            let note = trimmed_within("note", &note, 200)?;
            shown_text("note", &note, Lines::Many)?;
            note
        }
        None => String::new(),
    };
    match mode {
        ClaimMode::Address => {
            not_in_mode("contact", &draft.contact, mode)?;
            let name = required_text_in("name", draft.name, 1, 32, Lines::Many)?;
            let phone = required_text_in("phone", draft.phone, 5, 20, Lines::Many)?;
            if !phone
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-'))
            {
                return Err(AppError::InvalidArgument(
                    "phone may hold only digits, spaces, + and -".into(),
                ));
            }
            if !phone.chars().any(|c| c.is_ascii_digit()) {
                return Err(AppError::InvalidArgument("phone needs digits".into()));
            }
            let address = required_text_in("address", draft.address, 1, 200, Lines::Many)?;
            Ok(Details::Address {
                name,
                phone,
                address,
                note,
            })
        }
        ClaimMode::Contact => {
            for (field, value) in [
                ("name", &draft.name),
                ("phone", &draft.phone),
                ("address", &draft.address),
            ] {
                not_in_mode(field, value, mode)?;
            }
            let contact = required_text_in("contact", draft.contact, 1, 200, Lines::Many)?;
            Ok(Details::Contact { contact, note })
        }
    }
}

/// `POST …/claims/{user_id}/ship` as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipmentDraft {
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shipment {
    pub carrier: String,
    pub tracking_no: String,
}

pub fn validate_shipment(draft: ShipmentDraft) -> Result<Shipment, AppError> {
    Ok(Shipment {
        carrier: required_text("carrier", draft.carrier, 1, 32)?,
        tracking_no: required_text("tracking_no", draft.tracking_no, 1, 64)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn address(name: &str, phone: &str, addr: &str) -> DetailsDraft {
        DetailsDraft {
            name: Some(name.into()),
            phone: Some(phone.into()),
            address: Some(addr.into()),
            ..Default::default()
        }
    }

    #[test]
    fn an_unclaimed_claim_expires_at_claim_by_without_a_write() {
        let won = at("2026-12-01T12:00:00Z");
        let by = claim_by(won, 7);
        assert_eq!(by, at("2026-12-08T12:00:00Z"));
        let before = by - Duration::seconds(1);
        assert_eq!(
            status_at(ClaimStatus::Unclaimed, by, before),
            ClaimStatus::Unclaimed
        );
        assert_eq!(
            status_at(ClaimStatus::Unclaimed, by, by),
            ClaimStatus::Expired
        );
        assert_eq!(
            status_at(ClaimStatus::Claimed, by, by),
            ClaimStatus::Claimed
        );
    }

    #[test]
    fn details_change_until_shipped_or_claim_by() {
        let by = at("2026-12-08T12:00:00Z");
        let before = by - Duration::seconds(1);
        assert!(check_details_change(ClaimStatus::Unclaimed, by, before).is_ok());
        assert!(check_details_change(ClaimStatus::Claimed, by, before).is_ok());
        for (status, now) in [
            (ClaimStatus::Unclaimed, by),
            (ClaimStatus::Claimed, by),
            (ClaimStatus::Expired, before),
            (ClaimStatus::Shipped, before),
            (ClaimStatus::Received, before),
        ] {
            let err = check_details_change(status, by, now).unwrap_err();
            assert_eq!(err.code(), 40903, "{status:?}");
        }
    }

    #[test]
    fn ship_only_from_claimed_received_only_from_shipped() {
        let by = at("2026-12-08T12:00:00Z");
        let now = by - Duration::days(1);
        assert!(check_ship(ClaimStatus::Claimed, by, now).is_ok());
        assert!(
            check_ship(ClaimStatus::Claimed, by, by).is_ok(),
            "a claimed prize ships late too"
        );
        for status in [
            ClaimStatus::Unclaimed,
            ClaimStatus::Shipped,
            ClaimStatus::Received,
            ClaimStatus::Expired,
        ] {
            assert_eq!(check_ship(status, by, now).unwrap_err().code(), 40901);
        }
        assert!(check_received(ClaimStatus::Shipped).is_ok());
        assert_eq!(
            check_received(ClaimStatus::Claimed).unwrap_err().code(),
            40901
        );
    }

    #[test]
    fn address_details_are_checked_field_by_field() {
        let ok = validate_details(
            ClaimMode::Address,
            address(" 张三 ", "+86 138-0013-8000", "北京市朝阳区, \"A\" 座"),
        )
        .unwrap();
        assert_eq!(
            ok,
            Details::Address {
                name: "张三".into(),
                phone: "+86 138-0013-8000".into(),
                address: "北京市朝阳区, \"A\" 座".into(),
                note: String::new(),
            }
        );
        for (draft, field) in [
            (address("", "12345", "a"), "name"),
            (address(&"名".repeat(33), "12345", "a"), "name"),
            (address("n", "1234", "a"), "phone"),
            (address("n", "123456789012345678901", "a"), "phone"),
            (address("n", "12345x", "a"), "phone"),
            (address("n", "+ - +", "a"), "phone"),
            (address("n", "12345", ""), "address"),
            (address("n", "12345", &"a".repeat(201)), "address"),
            (DetailsDraft::default(), "name"),
        ] {
            let err = validate_details(ClaimMode::Address, draft).unwrap_err();
            assert_eq!(err.code(), 40000);
            assert!(err.to_string().starts_with(field), "{field}: {err}");
        }
        let mut with_contact = address("n", "12345", "a");
        with_contact.contact = Some("x".into());
        let err = validate_details(ClaimMode::Address, with_contact).unwrap_err();
        assert!(err.to_string().starts_with("contact"), "{err}");
        let mut long_note = address("n", "12345", "a");
        long_note.note = Some("n".repeat(201));
        let err = validate_details(ClaimMode::Address, long_note).unwrap_err();
        assert!(err.to_string().starts_with("note"), "{err}");
    }

    #[test]
    fn contact_details_ask_for_a_contact_alone() {
        let draft = DetailsDraft {
            contact: Some("wechat: zhangsan".into()),
            note: Some("evenings".into()),
            ..Default::default()
        };
        assert_eq!(
            validate_details(ClaimMode::Contact, draft).unwrap(),
            Details::Contact {
                contact: "wechat: zhangsan".into(),
                note: "evenings".into()
            }
        );
        let err = validate_details(ClaimMode::Contact, address("n", "12345", "a")).unwrap_err();
        assert!(err.to_string().starts_with("name"), "{err}");
        let err = validate_details(ClaimMode::Contact, DetailsDraft::default()).unwrap_err();
        assert!(err.to_string().starts_with("contact"), "{err}");
    }

    #[test]
    fn claim_settings_and_shipments() {
        assert_eq!(validate_claim_days(None).unwrap(), 7);
        assert_eq!(validate_claim_days(Some(90)).unwrap(), 90);
        for bad in [0, 91, -1] {
            assert!(validate_claim_days(Some(bad))
                .unwrap_err()
                .to_string()
                .starts_with("claim_days"));
        }
        assert_eq!(ClaimMode::parse("contact").unwrap(), ClaimMode::Contact);
        assert!(ClaimMode::parse("post").is_err());
        let err = validate_shipment(ShipmentDraft {
            carrier: Some("SF".into()),
            tracking_no: Some("".into()),
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("tracking_no"), "{err}");
        let err = validate_shipment(ShipmentDraft::default()).unwrap_err();
        assert!(err.to_string().starts_with("carrier"), "{err}");
    }
}
