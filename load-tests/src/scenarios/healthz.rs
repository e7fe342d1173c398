//! `healthz`: `GET /healthz` as fast as possible (or at `--rate`), the
//! baseline.

use super::Args;
use crate::drive::drive;
use crate::output;
use crate::stats::Report;
use crate::wire::Conn;

pub async fn run(args: &Args) -> Report {
    let report = drive(
        "healthz",
        args.target,
        args.timed(None),
        async |_, conn: &mut Conn| conn.get("healthz", "/healthz", None).await?.ok(),
    )
    .await;
    output::phase(&report);
    report
}
