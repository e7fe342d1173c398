//! `healthz`: `GET /healthz` as fast as possible, the baseline.

use super::Args;
use crate::stats::{drive, Report};
use crate::wire::Conn;

pub async fn run(args: &Args) -> Report {
    let report = drive(
        "healthz",
        args.target,
        args.concurrency,
        args.seconds,
        None,
        async |_, conn: &mut Conn| conn.get("healthz", "/healthz", None).await?.ok(),
    )
    .await;
    report.print();
    report
}
