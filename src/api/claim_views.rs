//! A claim as the contract writes it (`Claim`), with its details opened:
//! only built for the winner or the event's creator (the handlers check
//! who asks before they call these), and the CSV export of every claim.

use serde::Serialize;
use utoipa::ToSchema;

use crate::api::views::{time, PrizeRef, UserRef};
use crate::domain::claim::{self, Details};
use crate::error::{AppError, AppResult};
use crate::pii::{self, Keyring};
use crate::store::claims::ClaimRecord;
use chrono::{DateTime, Utc};

#[derive(Serialize, ToSchema)]
pub struct ShipmentView {
    pub carrier: String,
    pub tracking_no: String,
    #[schema(format = DateTime)]
    pub shipped_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ClaimView {
    pub event_id: i64,
    pub user: UserRef,
    pub prize: PrizeRef,
    /// 1 for the draw, k for the k-th re-draw.
    pub round: i16,
    /// `unclaimed`, `claimed`, `shipped`, `received` or `expired`.
    #[schema(value_type = crate::domain::claim::ClaimStatus, example = "unclaimed")]
    pub status: &'static str,
    #[schema(format = DateTime)]
    pub claim_by: String,
    /// `{"name", "phone", "address", "note"}` (address mode) or
    /// `{"contact", "note"}` (contact mode); null before the claim and
    /// once erased.
    #[schema(value_type = Option<Object>, required)]
    pub details: Option<Details>,
    #[schema(required)]
    pub shipment: Option<ShipmentView>,
    #[schema(format = DateTime, required)]
    pub claimed_at: Option<String>,
    #[schema(format = DateTime, required)]
    pub received_at: Option<String>,
}

/// The details in clear. A value that does not open is the server's
/// fault (a key taken out of the setting, a damaged row): a 500 whose
/// message names the reason, never the value.
pub fn open_details(keys: &Keyring, record: &ClaimRecord) -> AppResult<Option<Details>> {
    record
        .details
        .as_deref()
        .map(|sealed| {
            pii::details::open(keys, record.event_id, record.user_id, sealed).map_err(|err| {
                AppError::internal(format!(
                    "the details of the claim of user {} in event {} do not open: {err}",
                    record.user_id, record.event_id
                ))
            })
        })
        .transpose()
}

pub fn claim_view(keys: &Keyring, record: ClaimRecord, now: DateTime<Utc>) -> AppResult<ClaimView> {
    let details = open_details(keys, &record)?;
    let status = claim::status_at(record.status, record.claim_by.and_utc(), now);
    let shipment = match (record.carrier, record.tracking_no, record.shipped_at) {
        (Some(carrier), Some(tracking_no), Some(at)) => Some(ShipmentView {
            carrier,
            tracking_no,
            shipped_at: time(at),
        }),
        _ => None,
    };
    Ok(ClaimView {
        event_id: record.event_id,
        user: UserRef {
            id: record.user_id,
            nickname: record.nickname,
        },
        prize: PrizeRef {
            id: record.prize_id,
            name: record.prize_name,
        },
        round: record.round,
        status: status.as_str(),
        claim_by: time(record.claim_by),
        details,
        shipment,
        claimed_at: record.claimed_at.map(time),
        received_at: record.received_at.map(time),
    })
}

/// The columns of the export, in order.
const CSV_HEADER: [&str; 17] = [
    "round",
    "user_id",
    "nickname",
    "prize_id",
    "prize",
    "status",
    "claim_by",
    "name",
    "phone",
    "address",
    "contact",
    "note",
    "carrier",
    "tracking_no",
    "claimed_at",
    "shipped_at",
    "received_at",
];

/// Text a user typed, made safe for a spreadsheet: Excel runs a cell that
/// starts with `=`, `+`, `-` or `@` (or a tab or CR before one) as a
/// formula, so such a cell gets a leading `'` (OWASP's advice for CSV
/// injection); Excel shows the text, a script can strip the quote.
fn cell(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

/// Every claim as CSV: UTF-8 with a byte-order mark (Excel reads a file
/// without one in the machine's legacy code page and garbles Chinese),
/// fields quoted as RFC 4180 says (`csv` does it), CRLF line ends.
pub fn claims_csv(
    keys: &Keyring,
    records: Vec<ClaimRecord>,
    now: DateTime<Utc>,
) -> AppResult<Vec<u8>> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        let failed = |err: csv::Error| AppError::internal(format!("the export failed: {err}"));
        writer.write_record(CSV_HEADER).map_err(failed)?;
        for record in records {
            let view = claim_view(keys, record, now)?;
            let (name, phone, address, contact, note) = match view.details {
                Some(Details::Address {
                    name,
                    phone,
                    address,
                    note,
                }) => (name, phone, address, String::new(), note),
                Some(Details::Contact { contact, note }) => {
                    (String::new(), String::new(), String::new(), contact, note)
                }
                None => Default::default(),
            };
            let (carrier, tracking_no, shipped_at) = match view.shipment {
                Some(s) => (s.carrier, s.tracking_no, s.shipped_at),
                None => Default::default(),
            };
            writer
                .write_record([
                    view.round.to_string(),
                    view.user.id.to_string(),
                    cell(view.user.nickname.unwrap_or_default()),
                    view.prize.id.to_string(),
                    cell(view.prize.name),
                    view.status.to_string(),
                    view.claim_by,
                    cell(name),
                    cell(phone),
                    cell(address),
                    cell(contact),
                    cell(note),
                    cell(carrier),
                    cell(tracking_no),
                    view.claimed_at.unwrap_or_default(),
                    shipped_at,
                    view.received_at.unwrap_or_default(),
                ])
                .map_err(failed)?;
        }
        writer
            .flush()
            .map_err(|err| AppError::internal(format!("the export failed: {err}")))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formulas_are_kept_as_text() {
        assert_eq!(cell("=HYPERLINK(\"x\")".into()), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("+86 138 0000 0000".into()), "'+86 138 0000 0000");
        assert_eq!(cell("@SUM(A1)".into()), "'@SUM(A1)");
        assert_eq!(cell("张三, \"小张\"".into()), "张三, \"小张\"");
    }
}
