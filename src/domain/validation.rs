//! Validation of what clients send. Each rule names the field it checks, so
//! the 40000 message tells the mini-program developer what to fix.

use chrono::{DateTime, Duration, Timelike, Utc};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use super::event::DrawMode;
use crate::domain::claim::{validate_claim_days, ClaimMode};
use crate::domain::join_rules::{JoinRules, MAX_MIN_PARTICIPANTS, MAX_PASSWORD_CHARS};
use crate::domain::media;
use crate::domain::text::{required_text, shown_text, text_in_range, Lines};
use crate::error::AppError;
use crate::secret::Secret;

pub const MAX_TITLE_CHARS: usize = 64;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_DRAW_AHEAD_DAYS: i64 = 366;
pub const MAX_PARTICIPANTS_LIMIT: i64 = 1_000_000;
pub const MAX_PRIZES: usize = 20;
pub const MAX_PRIZE_NAME_CHARS: usize = 32;
pub const MAX_PRIZE_QUANTITY: i64 = 10_000;
pub const MAX_TOTAL_QUANTITY: i64 = 100_000;
pub const MAX_URL_LEN: usize = 512;
pub const MAX_NICKNAME_CHARS: usize = 32;

/// The body of `POST /events` as sent. Fields are optional here so that a
/// missing one gets our message instead of the JSON parser's.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Year-end raffle", "draw_at": "2026-12-31T12:00:00Z", "draw_mode": "at_time", "prizes": [{"name": "Headphones", "quantity": 1}]}))]
pub struct EventDraft {
    /// Required; 1 to 64 characters, trimmed, one line.
    #[schema(value_type = String, required, min_length = 1, max_length = 64)]
    pub title: Option<String>,
    /// Up to 1000 characters.
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// Required; RFC 3339 with an offset, in the future, at most 366 days ahead.
    #[schema(value_type = String, required, format = DateTime)]
    pub draw_at: Option<String>,
    /// `at_time` (default), `when_full` or `manual`.
    #[schema(value_type = Option<DrawMode>)]
    pub draw_mode: Option<String>,
    /// 1 to 1000000; required for `when_full`.
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub max_participants: Option<i64>,
    /// Required; 1 to 20 prizes, 100000 in all.
    #[schema(value_type = Vec<PrizeDraft>, required, min_items = 1, max_items = 20)]
    pub prizes: Option<Vec<PrizeDraft>>,
    /// Days winners have to claim their prizes after the draw: 1 to 90,
    /// default 7.
    #[schema(minimum = 1, maximum = 90)]
    #[serde(default, deserialize_with = "whole_number")]
    pub claim_days: Option<i64>,
    /// What winners give: `address` (default: name, phone, address) or
    /// `contact`.
    #[schema(value_type = Option<ClaimMode>)]
    pub claim_mode: Option<String>,
    /// 1 to 32 characters: joins must give it (`password`), compared
    /// exactly. Never shown again.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 32)]
    pub join_password: Option<Secret>,
    /// Joins need proof of one of the WeChat groups the creator binds
    /// (`POST /events/{id}/groups`).
    pub group_only: Option<bool>,
    /// Joins are refused to accounts WeChat rates as likely fraud.
    pub risk_check: Option<bool>,
    /// 1 to 1000000: fewer participants at the draw cancel the event.
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub min_participants: Option<i64>,
    /// The id of an image the caller uploaded (`POST /media`): the cover.
    #[schema(pattern = "^[A-Za-z0-9_-]{22}$")]
    pub cover: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrizeDraft {
    /// Required; 1 to 32 characters, trimmed, one line.
    #[schema(value_type = String, required, min_length = 1, max_length = 32)]
    pub name: Option<String>,
    /// Required; 1 to 10000.
    #[schema(value_type = i64, required, minimum = 1, maximum = 10_000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub quantity: Option<i64>,
    /// An https URL of at most 512 bytes.
    #[schema(max_length = 512, pattern = "^https://[^/?#\\s]+\\S*$")]
    pub image_url: Option<String>,
    /// The id of an image the caller uploaded (`POST /media`).
    #[schema(pattern = "^[A-Za-z0-9_-]{22}$")]
    pub image: Option<String>,
}

/// A JSON number that is a whole number, written `7` or `7.0`: JSON Schema
/// calls both integers (the document says `integer`), serde's `i64` takes
/// only the first. Beyond i64 it saturates, so the range check names the
/// field; `7.5` is refused.
fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    n.as_i64()
        .or_else(|| n.as_u64().map(|_| i64::MAX))
        .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a whole number")))
}

/// A draft that passed every rule.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub title: String,
    pub description: String,
    pub draw_at: DateTime<Utc>,
    pub draw_mode: DrawMode,
    pub max_participants: Option<i32>,
    pub prizes: Vec<NewPrize>,
    pub claim_days: i16,
    pub claim_mode: ClaimMode,
    pub join_rules: JoinRules,
    /// The password in clear, until the store keeps its digest.
    pub join_password: Option<Secret>,
    /// An uploaded image's id (whose it is, the handler checks).
    pub cover_id: Option<String>,
}

impl NewEvent {
    /// Every uploaded image the event names, each once, with the field
    /// that names it first.
    pub fn image_ids(&self) -> Vec<(String, String)> {
        let mut named: Vec<(String, String)> = Vec::new();
        let fields = self
            .cover_id
            .iter()
            .map(|id| ("cover".to_string(), id))
            .chain(self.prizes.iter().enumerate().filter_map(|(i, p)| {
                p.image_id
                    .as_ref()
                    .map(|id| (format!("prizes[{i}].image"), id))
            }));
        for (field, id) in fields {
            if !named.iter().any(|(_, known)| known == id) {
                named.push((field, id.clone()));
            }
        }
        named
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewPrize {
    pub name: String,
    pub quantity: i32,
    pub image_url: Option<String>,
    pub image_id: Option<String>,
}

fn invalid(message: String) -> AppError {
    AppError::InvalidArgument(message)
}

/// An https URL with a host, at most 512 bytes: what a mini-program can show.
pub fn validate_https_url(field: &str, value: &str) -> Result<(), AppError> {
    if value.len() > MAX_URL_LEN {
        return Err(invalid(format!(
            "{field} must be at most {MAX_URL_LEN} bytes"
        )));
    }
    let host = value
        .strip_prefix("https://")
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
    match host {
        Some(h) if !h.is_empty() && !value.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Ok(())
        }
        _ => Err(invalid(format!("{field} must be an https URL"))),
    }
}

pub fn validate_nickname(value: &str) -> Result<String, AppError> {
    required_text("nickname", Some(value.to_string()), 1, MAX_NICKNAME_CHARS)
}

/// An RFC 3339 time that is a real instant. RFC 3339 allows second 60 for
/// a leap second, which neither database can store (MySQL turned it into a
/// zero date): it is refused, not shifted.
pub fn parse_time(field: &str, value: &str) -> Result<DateTime<Utc>, AppError> {
    let t = DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            invalid(format!(
                "{field} must be an RFC 3339 time such as 2026-11-22T12:00:00Z"
            ))
        })?;
    if t.nanosecond() >= 1_000_000_000 {
        return Err(invalid(format!(
            "{field} names a leap second (:60), which is not stored; use :59 or the next minute"
        )));
    }
    Ok(t)
}

pub fn validate_event(draft: EventDraft, now: DateTime<Utc>) -> Result<NewEvent, AppError> {
    let title = required_text("title", draft.title, 1, MAX_TITLE_CHARS)?;

    let description = draft.description.unwrap_or_default();
    text_in_range("description", &description, 0, MAX_DESCRIPTION_CHARS)?;
    shown_text("description", &description, Lines::Many)?;

    let draw_at_text = draft
        .draw_at
        .ok_or_else(|| invalid("draw_at is required".into()))?;
    let draw_at = parse_time("draw_at", &draw_at_text)?;
    if draw_at <= now {
        return Err(invalid("draw_at must be in the future".into()));
    }
    if draw_at > now + Duration::days(MAX_DRAW_AHEAD_DAYS) {
        return Err(invalid(format!(
            "draw_at must be at most {MAX_DRAW_AHEAD_DAYS} days ahead"
        )));
    }

    let draw_mode = match draft.draw_mode.as_deref() {
        None => DrawMode::AtTime,
        Some(text) => DrawMode::parse(text)
            .ok_or_else(|| invalid("draw_mode must be one of at_time, when_full, manual".into()))?,
    };

    let max_participants = match draft.max_participants {
        None if draw_mode == DrawMode::WhenFull => {
            return Err(invalid(
                "max_participants is required when draw_mode is when_full".into(),
            ))
        }
        None => None,
        Some(n) if (1..=MAX_PARTICIPANTS_LIMIT).contains(&n) => Some(n as i32),
        Some(_) => {
            return Err(invalid(format!(
                "max_participants must be between 1 and {MAX_PARTICIPANTS_LIMIT}"
            )))
        }
    };

    let claim_days = validate_claim_days(draft.claim_days)?;
    let claim_mode = match draft.claim_mode.as_deref() {
        None => ClaimMode::Address,
        Some(text) => ClaimMode::parse(text)?,
    };

    let join_password = match draft.join_password {
        None => None,
        Some(password) => {
            let chars = password.expose().chars().count();
            if !(1..=MAX_PASSWORD_CHARS).contains(&chars) {
                return Err(invalid(format!(
                    "join_password must be 1 to {MAX_PASSWORD_CHARS} characters"
                )));
            }
            if password.expose().chars().any(char::is_control) {
                return Err(invalid(
                    "join_password must not contain control characters".into(),
                ));
            }
            Some(password)
        }
    };
    let min_participants = match draft.min_participants {
        None => None,
        Some(n) if (1..=MAX_MIN_PARTICIPANTS).contains(&n) => Some(n as i32),
        Some(_) => {
            return Err(invalid(format!(
                "min_participants must be between 1 and {MAX_MIN_PARTICIPANTS}"
            )))
        }
    };
    if let (Some(min), Some(max)) = (min_participants, max_participants) {
        if min > max {
            return Err(invalid(format!(
                "min_participants ({min}) must not exceed max_participants ({max})"
            )));
        }
    }
    if let Some(id) = &draft.cover {
        image_id("cover", id)?;
    }
    let join_rules = JoinRules {
        password: join_password.is_some(),
        group_only: draft.group_only.unwrap_or(false),
        risk_check: draft.risk_check.unwrap_or(false),
        min_participants,
    };

    let drafts = draft
        .prizes
        .ok_or_else(|| invalid("prizes is required".into()))?;
    if drafts.is_empty() || drafts.len() > MAX_PRIZES {
        return Err(invalid(format!(
            "prizes must list 1 to {MAX_PRIZES} prizes (got {})",
            drafts.len()
        )));
    }
    let mut prizes = Vec::with_capacity(drafts.len());
    let mut total: i64 = 0;
    for (i, p) in drafts.into_iter().enumerate() {
        let name = required_text(
            &format!("prizes[{i}].name"),
            p.name,
            1,
            MAX_PRIZE_NAME_CHARS,
        )?;
        let quantity = p
            .quantity
            .ok_or_else(|| invalid(format!("prizes[{i}].quantity is required")))?;
        if !(1..=MAX_PRIZE_QUANTITY).contains(&quantity) {
            return Err(invalid(format!(
                "prizes[{i}].quantity must be between 1 and {MAX_PRIZE_QUANTITY}"
            )));
        }
        if let Some(url) = &p.image_url {
            validate_https_url(&format!("prizes[{i}].image_url"), url)?;
        }
        if let Some(id) = &p.image {
            image_id(&format!("prizes[{i}].image"), id)?;
        }
        total += quantity;
        prizes.push(NewPrize {
            name,
            quantity: quantity as i32,
            image_url: p.image_url,
            image_id: p.image,
        });
    }
    if total > MAX_TOTAL_QUANTITY {
        return Err(invalid(format!(
            "the prizes' total quantity must be at most {MAX_TOTAL_QUANTITY} (got {total})"
        )));
    }

    Ok(NewEvent {
        title,
        description,
        draw_at,
        draw_mode,
        max_participants,
        prizes,
        claim_days,
        claim_mode,
        join_rules,
        join_password,
        cover_id: draft.cover,
    })
}

/// An image id as `POST /media` makes them (whose it is, the handler checks).
fn image_id(field: &str, id: &str) -> Result<(), AppError> {
    if media::is_id(id) {
        Ok(())
    } else {
        Err(invalid(format!(
            "{field} must be the id of an image you uploaded (POST /api/v1/media)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(now: DateTime<Utc>) -> EventDraft {
        EventDraft {
            title: Some("  Lucky draw  ".into()),
            description: None,
            draw_at: Some((now + Duration::hours(1)).to_rfc3339()),
            draw_mode: None,
            max_participants: None,
            prizes: Some(vec![PrizeDraft {
                name: Some("Cup".into()),
                quantity: Some(2),
                image_url: None,
                image: None,
            }]),
            claim_days: None,
            claim_mode: None,
            join_password: None,
            group_only: None,
            risk_check: None,
            min_participants: None,
            cover: None,
        }
    }

    fn message(d: EventDraft, now: DateTime<Utc>) -> String {
        let err = validate_event(d, now).unwrap_err();
        assert_eq!(err.code(), 40000);
        err.to_string()
    }

    #[test]
    fn a_good_draft_is_trimmed_and_defaults_to_at_time() {
        let now = Utc::now();
        let e = validate_event(draft(now), now).unwrap();
        assert_eq!(e.title, "Lucky draw");
        assert_eq!(e.draw_mode, DrawMode::AtTime);
        assert_eq!(e.prizes[0].quantity, 2);
        assert_eq!(e.join_rules, JoinRules::default());
        let mut with_rules = draft(now);
        with_rules.join_password = Some(Secret::new("口令 1234"));
        with_rules.min_participants = Some(3);
        with_rules.group_only = Some(true);
        let e = validate_event(with_rules, now).unwrap();
        assert!(e.join_rules.password && e.join_rules.group_only && !e.join_rules.risk_check);
        assert_eq!(e.join_rules.min_participants, Some(3));
        assert!(
            !format!("{e:?}").contains("1234"),
            "the password never prints"
        );
    }

    #[test]
    fn each_rule_names_its_field() {
        let now = Utc::now();
        type Change = Box<dyn Fn(&mut EventDraft)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|d| d.title = None), "title"),
            (Box::new(|d| d.title = Some("   ".into())), "title"),
            (Box::new(|d| d.title = Some("x".repeat(65))), "title"),
            (
                Box::new(|d| d.description = Some("x".repeat(1001))),
                "description",
            ),
            (Box::new(|d| d.draw_at = None), "draw_at"),
            (Box::new(|d| d.draw_at = Some("tomorrow".into())), "draw_at"),
            (
                Box::new(|d| d.join_password = Some(Secret::new(""))),
                "join_password",
            ),
            (
                Box::new(|d| d.join_password = Some(Secret::new("口".repeat(33)))),
                "join_password",
            ),
            (
                Box::new(|d| d.join_password = Some(Secret::new("12\u{0}4"))),
                "join_password",
            ),
            (
                Box::new(|d| d.min_participants = Some(0)),
                "min_participants",
            ),
            (
                Box::new(|d| d.min_participants = Some(1_000_001)),
                "min_participants",
            ),
            (
                Box::new(|d| {
                    d.max_participants = Some(5);
                    d.min_participants = Some(6);
                }),
                "min_participants",
            ),
            (
                Box::new(|d| d.draw_at = Some("2026-12-31T23:59:60Z".into())),
                "leap second",
            ),
            (
                Box::new(move |d| d.draw_at = Some((now - Duration::seconds(1)).to_rfc3339())),
                "draw_at",
            ),
            (
                Box::new(move |d| d.draw_at = Some((now + Duration::days(367)).to_rfc3339())),
                "draw_at",
            ),
            (Box::new(|d| d.draw_mode = Some("soon".into())), "draw_mode"),
            (
                Box::new(|d| d.draw_mode = Some("when_full".into())),
                "max_participants",
            ),
            (
                Box::new(|d| d.max_participants = Some(0)),
                "max_participants",
            ),
            (
                Box::new(|d| d.max_participants = Some(1_000_001)),
                "max_participants",
            ),
            (Box::new(|d| d.prizes = None), "prizes"),
            (Box::new(|d| d.prizes = Some(vec![])), "prizes"),
            (
                Box::new(|d| {
                    d.prizes = Some(
                        (0..21)
                            .map(|_| PrizeDraft {
                                name: Some("a".into()),
                                quantity: Some(1),
                                image_url: None,
                                image: None,
                            })
                            .collect(),
                    )
                }),
                "prizes",
            ),
            (
                Box::new(|d| d.prizes.as_mut().unwrap()[0].name = Some("x".repeat(33))),
                "prizes[0].name",
            ),
            (
                Box::new(|d| d.prizes.as_mut().unwrap()[0].quantity = Some(0)),
                "prizes[0].quantity",
            ),
            (
                Box::new(|d| d.prizes.as_mut().unwrap()[0].quantity = Some(10_001)),
                "prizes[0].quantity",
            ),
            (
                Box::new(|d| {
                    d.prizes.as_mut().unwrap()[0].image_url = Some("http://x/y.png".into())
                }),
                "prizes[0].image_url",
            ),
            (
                Box::new(|d| {
                    d.prizes = Some(
                        (0..11)
                            .map(|_| PrizeDraft {
                                name: Some("a".into()),
                                quantity: Some(10_000),
                                image_url: None,
                                image: None,
                            })
                            .collect(),
                    )
                }),
                "total quantity",
            ),
        ];
        for (change, field) in cases {
            let mut d = draft(now);
            change(&mut d);
            let msg = message(d, now);
            assert!(msg.contains(field), "{msg:?} should name {field}");
        }
    }

    #[test]
    fn urls() {
        assert!(validate_https_url("u", "https://cdn.example.com/a.png").is_ok());
        assert!(validate_https_url("u", "https://").is_err());
        assert!(validate_https_url("u", "ftp://x").is_err());
        assert!(validate_https_url("u", "https://a b").is_err());
        assert!(validate_https_url("u", &format!("https://a/{}", "x".repeat(510))).is_err());
    }

    #[test]
    fn nicknames_are_trimmed_and_bounded_in_characters() {
        assert_eq!(validate_nickname(" 小明 ").unwrap(), "小明");
        assert!(validate_nickname(&"字".repeat(32)).is_ok());
        assert!(validate_nickname(&"字".repeat(33)).is_err());
        assert!(validate_nickname("  ").is_err());
        // The bound holds on the text as sent, as the document's maxLength
        // says: padding does not trim a 33-character value into range.
        assert!(validate_nickname(&format!("\t{}", "字".repeat(32))).is_err());
        assert!(validate_nickname(&format!(" {} ", "字".repeat(30))).is_ok());
    }
}
