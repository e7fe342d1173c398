//! Notices: what a subscribe message says and how it fits WeChat's field
//! rules. Which template key carries which value is the operator's choice
//! (`LOTTERY_WECHAT_RESULT_FIELDS` for results and cancellations,
//! `LOTTERY_WECHAT_CLAIM_FIELDS` for claim reminders), checked here at start.
//!
//! WeChat's rules for a template value depend on the key's type, the
//! letters before its number: `thing` at most 20 characters, `phrase` at
//! most 5 (Chinese), `character_string` at most 32 (letters, digits,
//! symbols), `time` and `date` as WeChat writes them.
//! <https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/subscribe-message/sendMessage.html>

use chrono::{DateTime, FixedOffset, Utc};
use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use unicode_segmentation::UnicodeSegmentation;

/// The default of `LOTTERY_WECHAT_RESULT_FIELDS`.
pub const DEFAULT_FIELDS: &str = "thing1=title,phrase2=result,thing3=prize,time4=drawn_at";
/// The default of `LOTTERY_WECHAT_CLAIM_FIELDS`.
pub const DEFAULT_CLAIM_FIELDS: &str = "thing1=title,thing2=prize,time3=claim_by,thing4=hint";

/// What a notice tells. Stored as SMALLINT (`store::types` maps it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::SmallInt)]
pub enum NoticeKind {
    /// The draw's result for one participant.
    Result,
    /// The event was cancelled before its draw.
    Cancelled,
    /// A winner's reminder to claim the prize before `claim_by` (or, for
    /// a re-draw's winner, the news of the win with its deadline).
    ClaimReminder,
}

impl NoticeKind {
    pub fn from_db(value: i16) -> Option<Self> {
        match value {
            1 => Some(Self::Result),
            2 => Some(Self::Cancelled),
            3 => Some(Self::ClaimReminder),
            _ => None,
        }
    }

    pub fn to_db(self) -> i16 {
        *self.db_value()
    }

    /// The stored number, borrowed for as long as diesel needs it.
    pub fn db_value(self) -> &'static i16 {
        match self {
            Self::Result => &1,
            Self::Cancelled => &2,
            Self::ClaimReminder => &3,
        }
    }
}

/// Where a notice is in its life (the `state` column). Stored as SMALLINT
/// (`store::types` maps it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::SmallInt)]
pub enum NoticeState {
    /// Not sent yet: due now, waiting for a retry, or claimed by a sender.
    Pending,
    Sent,
    /// Given up on; kept with its error for an operator.
    Failed,
    /// Not sent because it was no longer needed when it came due (a
    /// reminder for a claim already claimed, or past its window); kept,
    /// with why, as long as sent ones.
    Skipped,
}

impl NoticeState {
    pub fn from_db(value: i16) -> Option<Self> {
        match value {
            0 => Some(Self::Pending),
            1 => Some(Self::Sent),
            2 => Some(Self::Failed),
            3 => Some(Self::Skipped),
            _ => None,
        }
    }

    pub fn to_db(self) -> i16 {
        *self.db_value()
    }

    /// The stored number, borrowed for as long as diesel needs it.
    pub fn db_value(self) -> &'static i16 {
        match self {
            Self::Pending => &0,
            Self::Sent => &1,
            Self::Failed => &2,
            Self::Skipped => &3,
        }
    }
}

/// A value a template key can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The event's title.
    Title,
    /// 已中奖 / 未中奖 / 已取消.
    Result,
    /// The prize won; 未中奖 or 活动已取消 otherwise.
    Prize,
    /// When the event was drawn (or cancelled).
    DrawnAt,
    /// The event's id.
    EventId,
    /// The end of the winner's claim window (reminders only).
    ClaimBy,
    /// A fixed line asking the winner to claim (reminders only).
    Hint,
}

/// The words of a reminder's `hint`: at most 20 characters, a `thing`.
pub const CLAIM_HINT: &str = "请在截止前填写领奖信息";

/// Which notices a field map is for: each needs its own values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Results and cancellations: need `title` and `result`.
    Result,
    /// Claim reminders: need `title` and `claim_by`.
    ClaimReminder,
}

impl Purpose {
    fn needs(self) -> [Source; 2] {
        match self {
            Self::Result => [Source::Title, Source::Result],
            Self::ClaimReminder => [Source::Title, Source::ClaimBy],
        }
    }
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Self::Title => "title",
            Self::Result => "result",
            Self::Prize => "prize",
            Self::DrawnAt => "drawn_at",
            Self::EventId => "event_id",
            Self::ClaimBy => "claim_by",
            Self::Hint => "hint",
        }
    }

    /// Whether a notice of this purpose has the value: a result knows no
    /// claim window.
    fn serves(self, purpose: Purpose) -> bool {
        !matches!(
            (self, purpose),
            (Self::ClaimBy | Self::Hint, Purpose::Result)
        )
    }

    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "title" => Self::Title,
            "result" => Self::Result,
            "prize" => Self::Prize,
            "drawn_at" => Self::DrawnAt,
            "event_id" => Self::EventId,
            "claim_by" => Self::ClaimBy,
            "hint" => Self::Hint,
            _ => return None,
        })
    }

    /// Key types whose rules this value always meets (after truncation).
    fn fits(self, kind: KeyType) -> bool {
        use KeyType::*;
        match self {
            Self::Title | Self::Prize | Self::Hint => matches!(kind, Thing),
            Self::Result => matches!(kind, Phrase | Thing),
            Self::DrawnAt | Self::ClaimBy => matches!(kind, Time | Date),
            Self::EventId => matches!(kind, CharacterString | Number | Thing),
        }
    }
}

/// The type of a template key: the letters before its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    Thing,
    Phrase,
    CharacterString,
    Number,
    Time,
    Date,
}

impl KeyType {
    fn of_key(key: &str) -> Option<Self> {
        let letters = key.trim_end_matches(|c: char| c.is_ascii_digit());
        if letters.len() == key.len() {
            return None; // a key always ends with its number
        }
        Some(match letters {
            "thing" => Self::Thing,
            "phrase" => Self::Phrase,
            "character_string" => Self::CharacterString,
            "number" => Self::Number,
            "time" => Self::Time,
            "date" => Self::Date,
            _ => return None,
        })
    }

    /// The most characters WeChat accepts in a value of this type.
    fn max_chars(self) -> usize {
        match self {
            Self::Thing => 20,
            Self::Phrase => 5,
            Self::CharacterString | Self::Number => 32,
            Self::Time | Self::Date => 32,
        }
    }
}

/// Which template key carries which value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldMap(Vec<(String, KeyType, Source)>);

impl FieldMap {
    /// Parses `key=value,key=value`. Every key must be a WeChat key type
    /// followed by its number, used once; every value one we can fill for
    /// this purpose and that fits its key's type; the purpose's two needed
    /// values must be there (`title` and `result`, or `title` and
    /// `claim_by`), since a notice without them says nothing.
    pub fn parse(text: &str, purpose: Purpose) -> Result<Self, String> {
        let mut fields: Vec<(String, KeyType, Source)> = Vec::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| format!("expected key=value, got {pair:?}"))?;
            let kind = KeyType::of_key(key).ok_or_else(|| {
                format!(
                    "{key:?} is not a template key: a type (thing, phrase, \
                     character_string, number, time, date) and its number, like thing1"
                )
            })?;
            let source = Source::parse(value)
                .filter(|s| s.serves(purpose))
                .ok_or_else(|| match purpose {
                    Purpose::Result => format!(
                        "{value:?} is not a value: title, result, prize, drawn_at or event_id"
                    ),
                    Purpose::ClaimReminder => format!(
                        "{value:?} is not a value: title, result, prize, drawn_at, event_id, \
                         claim_by or hint"
                    ),
                })?;
            if !source.fits(kind) {
                return Err(format!(
                    "{key} cannot carry {value}: {}",
                    match source {
                        Source::Title | Source::Prize | Source::Hint => "it needs a thing key",
                        Source::Result => "it needs a phrase or thing key",
                        Source::DrawnAt | Source::ClaimBy => "it needs a time or date key",
                        Source::EventId => "it needs a character_string, number or thing key",
                    }
                ));
            }
            if fields.iter().any(|(k, _, _)| k == key) {
                return Err(format!("{key} is given twice"));
            }
            fields.push((key.to_string(), kind, source));
        }
        let [first, second] = purpose.needs();
        for needed in [first, second] {
            if !fields.iter().any(|(_, _, s)| *s == needed) {
                return Err(format!(
                    "no key carries {}: this notice needs the {} and the {}",
                    needed.name(),
                    first.name(),
                    second.name(),
                ));
            }
        }
        Ok(Self(fields))
    }

    /// The template data of one notice: `{"thing1": {"value": "..."}, ...}`.
    pub fn data(&self, notice: &NoticeContent) -> serde_json::Value {
        let mut data = serde_json::Map::new();
        for (key, kind, source) in &self.0 {
            let value = match source {
                Source::Title => truncate(&notice.title, kind.max_chars()),
                Source::Result => notice.outcome.result().to_string(),
                Source::Prize => truncate(notice.outcome.prize(), kind.max_chars()),
                Source::DrawnAt => wechat_time(notice.at, *kind),
                Source::EventId => notice.event_id.to_string(),
                Source::ClaimBy => match notice.claim_by {
                    Some(at) => wechat_time(at, *kind),
                    None => "-".into(),
                },
                Source::Hint => CLAIM_HINT.into(),
            };
            data.insert(key.clone(), serde_json::json!({ "value": value }));
        }
        serde_json::Value::Object(data)
    }
}

/// How the event ended for the one told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Won { prize: String },
    Lost,
    Cancelled,
}

impl Outcome {
    fn result(&self) -> &'static str {
        match self {
            Self::Won { .. } => "已中奖",
            Self::Lost => "未中奖",
            Self::Cancelled => "已取消",
        }
    }

    fn prize(&self) -> &str {
        match self {
            Self::Won { prize } => prize,
            Self::Lost => "未中奖",
            Self::Cancelled => "活动已取消",
        }
    }
}

/// What one notice says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeContent {
    pub event_id: i64,
    pub title: String,
    pub outcome: Outcome,
    /// When the event was drawn or cancelled.
    pub at: DateTime<Utc>,
    /// The end of the claim window (claim reminders only).
    pub claim_by: Option<DateTime<Utc>>,
}

/// At most `max` characters, cut between user-perceived characters
/// (grapheme clusters), never inside one: an emoji with its modifiers or a
/// letter with its accents stays whole or goes whole. A cut text ends with
/// `…`, which counts toward `max`. Blank text becomes `-`: WeChat refuses
/// an empty value.
pub fn truncate(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "-".into();
    }
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for grapheme in text.graphemes(true) {
        let n = grapheme.chars().count();
        if used + n > max.saturating_sub(1) {
            break;
        }
        out.push_str(grapheme);
        used += n;
    }
    let out = out.trim_end();
    format!("{out}…")
}

/// China Standard Time: WeChat users read times in it.
fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("a valid offset")
}

/// A time as WeChat's `time` and `date` values take it, in China time:
/// `2026年11月23日 14:05` and `2026年11月23日`.
fn wechat_time(at: DateTime<Utc>, kind: KeyType) -> String {
    let local = at.with_timezone(&china());
    match kind {
        KeyType::Date => local.format("%Y年%m月%d日").to_string(),
        _ => local.format("%Y年%m月%d日 %H:%M").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn notice(title: &str, outcome: Outcome) -> NoticeContent {
        NoticeContent {
            event_id: 42,
            title: title.into(),
            outcome,
            at: Utc.with_ymd_and_hms(2026, 11, 23, 6, 5, 0).unwrap(),
            claim_by: None,
        }
    }

    #[test]
    fn kinds_and_states_keep_their_database_numbers() {
        for kind in [
            NoticeKind::Result,
            NoticeKind::Cancelled,
            NoticeKind::ClaimReminder,
        ] {
            assert_eq!(NoticeKind::from_db(kind.to_db()), Some(kind));
        }
        for state in [
            NoticeState::Pending,
            NoticeState::Sent,
            NoticeState::Failed,
            NoticeState::Skipped,
        ] {
            assert_eq!(NoticeState::from_db(state.to_db()), Some(state));
        }
        // The numbers rows already hold.
        assert_eq!(
            [NoticeKind::Result.to_db(), NoticeKind::Cancelled.to_db()],
            [1, 2]
        );
        assert_eq!(
            [
                NoticeState::Pending.to_db(),
                NoticeState::Sent.to_db(),
                NoticeState::Failed.to_db()
            ],
            [0, 1, 2]
        );
        assert_eq!(NoticeKind::ClaimReminder.to_db(), 3);
        assert_eq!(NoticeState::Skipped.to_db(), 3);
        assert_eq!(NoticeKind::from_db(0), None);
        assert_eq!(NoticeState::from_db(4), None);
    }

    #[test]
    fn the_default_fields_parse() {
        let map = FieldMap::parse(DEFAULT_FIELDS, Purpose::Result).unwrap();
        let data = map.data(&notice(
            "年终抽奖",
            Outcome::Won {
                prize: "一等奖".into(),
            },
        ));
        assert_eq!(
            data,
            serde_json::json!({
                "thing1": {"value": "年终抽奖"},
                "phrase2": {"value": "已中奖"},
                "thing3": {"value": "一等奖"},
                "time4": {"value": "2026年11月23日 14:05"},
            })
        );
    }

    #[test]
    fn losers_and_cancellations_say_so() {
        let map = FieldMap::parse(
            "thing7=title,thing2=result,thing5=prize,date3=drawn_at",
            Purpose::Result,
        )
        .unwrap();
        let lost = map.data(&notice("t", Outcome::Lost));
        assert_eq!(lost["thing2"]["value"], "未中奖");
        assert_eq!(lost["thing5"]["value"], "未中奖");
        assert_eq!(lost["date3"]["value"], "2026年11月23日");
        let cancelled = map.data(&notice("t", Outcome::Cancelled));
        assert_eq!(cancelled["thing2"]["value"], "已取消");
        assert_eq!(cancelled["thing5"]["value"], "活动已取消");
    }

    #[test]
    fn bad_field_maps_name_the_problem() {
        for (text, needle) in [
            ("thing1=title", "result"),
            ("phrase2=result", "title"),
            ("thing1=title,phrase2=result,thing1=prize", "twice"),
            ("thing=title,phrase2=result", "template key"),
            ("stuff1=title,phrase2=result", "template key"),
            ("thing1=title,phrase2=result,thing3=winner", "not a value"),
            ("phrase1=title,phrase2=result", "thing key"),
            (
                "thing1=title,phrase2=result,thing3=drawn_at",
                "time or date",
            ),
            ("thing1 title", "key=value"),
            ("thing1=title,phrase2=result,time3=claim_by", "not a value"),
            ("thing1=title,phrase2=result,thing3=hint", "not a value"),
        ] {
            let err = FieldMap::parse(text, Purpose::Result).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
        for (text, needle) in [
            ("thing1=title,phrase2=result", "claim_by"),
            ("time3=claim_by", "title"),
            ("thing1=title,thing3=claim_by", "time or date"),
            ("thing1=title,time3=claim_by,phrase4=hint", "thing key"),
        ] {
            let err = FieldMap::parse(text, Purpose::ClaimReminder).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn a_reminder_says_the_prize_and_until_when() {
        let map = FieldMap::parse(DEFAULT_CLAIM_FIELDS, Purpose::ClaimReminder).unwrap();
        let mut reminder = notice(
            "年终抽奖",
            Outcome::Won {
                prize: "一等奖".into(),
            },
        );
        reminder.claim_by = Some(Utc.with_ymd_and_hms(2026, 11, 30, 6, 5, 0).unwrap());
        assert_eq!(
            map.data(&reminder),
            serde_json::json!({
                "thing1": {"value": "年终抽奖"},
                "thing2": {"value": "一等奖"},
                "time3": {"value": "2026年11月30日 14:05"},
                "thing4": {"value": CLAIM_HINT},
            })
        );
        assert!(CLAIM_HINT.chars().count() <= 20);
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("short", 20), "short");
        assert_eq!(truncate("  ", 20), "-");
        let long = "一二三四五六七八九十一二三四五六七八九十一";
        let cut = truncate(long, 20);
        assert_eq!(cut.chars().count(), 20);
        assert!(cut.ends_with('…'));
        // A family emoji is 7 code points: it fits whole or not at all.
        let family = "👨‍👩‍👧‍👦";
        let cut = truncate(&format!("抽奖{family}{family}{family}"), 10);
        assert_eq!(cut, format!("抽奖{family}…"));
        // An accent stays with its letter.
        let cut = truncate("cafe\u{301}cafe\u{301}cafe\u{301}", 6);
        assert_eq!(cut, "cafe\u{301}…");
        for max in 1..12 {
            assert!(truncate(&format!("{family}{family}"), max).chars().count() <= max);
        }
    }
}
