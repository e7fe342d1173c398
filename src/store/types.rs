//! Column types of our own: an event's status and draw mode, and a
//! notice's kind and state, are SMALLINT columns holding fixed numbers
//! (each enum's `from_db` and `db_value`), read and written as the
//! domain's enums. A number no enum knows (a row written by hand, or by a
//! newer version) fails that row's decoding with its value in the message.
//! The participant count is read as the domain's count (a negative one
//! fails the same way).

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Integer, SmallInt};

use crate::domain::claim::{ClaimMode, ClaimStatus};
use crate::domain::count::ParticipantCount;
use crate::domain::event::{CancelReason, DrawMode, EventStatus};
use crate::domain::notice::{NoticeKind, NoticeState};

macro_rules! small_int_enum {
    ($ty:ty, $what:literal) => {
        impl<DB: Backend> FromSql<SmallInt, DB> for $ty
        where
            i16: FromSql<SmallInt, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let value = i16::from_sql(bytes)?;
                <$ty>::from_db(value).ok_or_else(|| format!("unknown {} {value}", $what).into())
            }
        }

        impl<DB: Backend> ToSql<SmallInt, DB> for $ty
        where
            i16: ToSql<SmallInt, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.db_value().to_sql(out)
            }
        }
    };
}

small_int_enum!(EventStatus, "event status");
small_int_enum!(DrawMode, "draw mode");
small_int_enum!(NoticeKind, "notice kind");
small_int_enum!(NoticeState, "notice state");
small_int_enum!(ClaimMode, "claim mode");
small_int_enum!(CancelReason, "cancel reason");
small_int_enum!(ClaimStatus, "claim status");

impl<DB: Backend> FromSql<Integer, DB> for ParticipantCount
where
    i32: FromSql<Integer, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let value = i32::from_sql(bytes)?;
        ParticipantCount::from_db(value)
            .ok_or_else(|| format!("negative participant count {value}").into())
    }
}

small_int_enum!(crate::domain::media::MediaStatus, "image status");
