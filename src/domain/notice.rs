//! Result notices: what a subscribe message says and how it fits WeChat's
//! field rules. Which template key carries which value is the operator's
//! choice (`LOTTERY_WECHAT_RESULT_FIELDS`), checked here at start.
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

/// What a notice tells. Stored as SMALLINT (`store::types` maps it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::SmallInt)]
pub enum NoticeKind {
    /// The draw's result for one participant.
    Result,
    /// The event was cancelled before its draw.
    Cancelled,
}

impl NoticeKind {
    pub fn from_db(value: i16) -> Option<Self> {
        match value {
            1 => Some(Self::Result),
            2 => Some(Self::Cancelled),
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
}

impl NoticeState {
    pub fn from_db(value: i16) -> Option<Self> {
        match value {
            0 => Some(Self::Pending),
            1 => Some(Self::Sent),
            2 => Some(Self::Failed),
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
}

impl Source {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "title" => Self::Title,
            "result" => Self::Result,
            "prize" => Self::Prize,
            "drawn_at" => Self::DrawnAt,
            "event_id" => Self::EventId,
            _ => return None,
        })
    }

    /// Key types whose rules this value always meets (after truncation).
    fn fits(self, kind: KeyType) -> bool {
        use KeyType::*;
        match self {
            Self::Title | Self::Prize => matches!(kind, Thing),
            Self::Result => matches!(kind, Phrase | Thing),
            Self::DrawnAt => matches!(kind, Time | Date),
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
    /// followed by its number, used once; every value one we can fill and
    /// that fits its key's type; `title` and `result` must be there, since
    /// a notice without them says nothing.
    pub fn parse(text: &str) -> Result<Self, String> {
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
            let source = Source::parse(value).ok_or_else(|| {
                format!("{value:?} is not a value: title, result, prize, drawn_at or event_id")
            })?;
            if !source.fits(kind) {
                return Err(format!(
                    "{key} cannot carry {value}: {}",
                    match source {
                        Source::Title | Source::Prize => "it needs a thing key",
                        Source::Result => "it needs a phrase or thing key",
                        Source::DrawnAt => "it needs a time or date key",
                        Source::EventId => "it needs a character_string, number or thing key",
                    }
                ));
            }
            if fields.iter().any(|(k, _, _)| k == key) {
                return Err(format!("{key} is given twice"));
            }
            fields.push((key.to_string(), kind, source));
        }
        for needed in [Source::Title, Source::Result] {
            if !fields.iter().any(|(_, _, s)| *s == needed) {
                return Err(format!(
                    "no key carries {}: a notice needs the title and the result",
                    match needed {
                        Source::Title => "title",
                        _ => "result",
                    }
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
        }
    }

    #[test]
    fn kinds_and_states_keep_their_database_numbers() {
        for kind in [NoticeKind::Result, NoticeKind::Cancelled] {
            assert_eq!(NoticeKind::from_db(kind.to_db()), Some(kind));
        }
        for state in [NoticeState::Pending, NoticeState::Sent, NoticeState::Failed] {
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
        assert_eq!(NoticeKind::from_db(0), None);
        assert_eq!(NoticeState::from_db(3), None);
    }

    #[test]
    fn the_default_fields_parse() {
        let map = FieldMap::parse(DEFAULT_FIELDS).unwrap();
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
        let map =
            FieldMap::parse("thing7=title,thing2=result,thing5=prize,date3=drawn_at").unwrap();
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
        ] {
            let err = FieldMap::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
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
