//! The number of an event's participants: one type from the row to the
//! answer, so a count is never negative, never a sentinel, and never
//! converted between integer widths along the way.

use diesel::deserialize::FromSqlRow;
use serde::Serialize;

/// Read from an INTEGER column (`store::types` maps it); written through
/// `db_value`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, FromSqlRow,
)]
#[serde(transparent)]
pub struct ParticipantCount(u32);

impl ParticipantCount {
    pub const ZERO: Self = Self(0);

    /// The count of a set of participants held in memory.
    pub fn of(len: usize) -> Self {
        Self(u32::try_from(len).expect("fewer than 2^32 participants"))
    }

    /// The count a row holds; the column is a signed INT that only this
    /// type writes, so a negative value is a row broken by hand.
    pub fn from_db(value: i32) -> Option<Self> {
        u32::try_from(value).ok().map(Self)
    }

    /// The value of the row's signed INT column.
    pub fn db_value(self) -> i32 {
        i32::try_from(self.0).expect("a count that fits the column")
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// The count after one participant joined (`joined`) and/or one left
    /// (`left`): a user's state changing from `left` to `joined`.
    pub fn changed(self, left: bool, joined: bool) -> Self {
        Self(self.0 + u32::from(joined) - u32::from(left))
    }

    /// Whether the count has reached an event's `max_participants`.
    pub fn reaches(self, max: i32) -> bool {
        i64::from(self.0) >= i64::from(max)
    }
}

impl std::fmt::Display for ParticipantCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_is_never_negative_and_serializes_as_a_number() {
        assert_eq!(ParticipantCount::from_db(-1), None);
        let five = ParticipantCount::from_db(5).unwrap();
        assert_eq!(five.changed(false, true).get(), 6);
        assert_eq!(five.changed(true, false).db_value(), 4);
        assert_eq!(five.changed(true, true), five);
        assert!(five.reaches(5) && !five.reaches(6) && five.reaches(-1));
        assert_eq!(serde_json::to_string(&five).unwrap(), "5");
    }
}
