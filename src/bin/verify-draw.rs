//! Re-runs a published draw offline:
//! `curl -s $B/events/1/fairness | cargo run --bin verify-draw`
//! Exits 0 when the seed matches its hash and the winners match the re-run.

use std::io::Read;
use std::process::ExitCode;

use lottery::domain::draw::{draw, seed_hash, PrizeSlots, ALGORITHM};
use serde::Deserialize;

#[derive(Deserialize)]
struct Report {
    algorithm: String,
    seed_hash: String,
    seed: String,
    participants: Vec<i64>,
    prizes: Vec<Prize>,
    winners: Vec<Winner>,
}

#[derive(Deserialize)]
struct Prize {
    id: i64,
    quantity: u32,
}

#[derive(Deserialize, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Winner {
    user_id: i64,
    prize_id: i64,
}

fn check(text: &str) -> Result<usize, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    // Accept the API envelope or its data alone.
    let data = value.get("data").cloned().unwrap_or(value);
    let report: Report =
        serde_json::from_value(data).map_err(|e| format!("not a fairness report: {e}"))?;
    if report.algorithm != ALGORITHM {
        return Err(format!("unknown algorithm {}", report.algorithm));
    }
    let seed = hex::decode(&report.seed).map_err(|_| "seed is not hex".to_string())?;
    if seed_hash(&seed) != report.seed_hash {
        return Err("SHA-256(seed) does not match seed_hash".into());
    }
    let seed: [u8; 32] = seed
        .try_into()
        .map_err(|_| "seed is not 32 bytes".to_string())?;
    let slots: Vec<PrizeSlots> = report
        .prizes
        .iter()
        .map(|p| PrizeSlots {
            prize_id: p.id,
            quantity: p.quantity,
        })
        .collect();
    let mut expected: Vec<Winner> = draw(&seed, &report.participants, &slots)
        .into_iter()
        .map(|a| Winner {
            user_id: a.user_id,
            prize_id: a.prize_id,
        })
        .collect();
    let mut published = report.winners;
    expected.sort();
    published.sort();
    if expected != published {
        return Err(format!(
            "winners differ: published {published:?}, re-run {expected:?}"
        ));
    }
    Ok(expected.len())
}

fn main() -> ExitCode {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("verify-draw: cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }
    match check(&text) {
        Ok(n) => {
            println!("OK: the seed matches its hash and the {n} winners match the re-run");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("MISMATCH: {e}");
            ExitCode::FAILURE
        }
    }
}
