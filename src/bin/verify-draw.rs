//! Re-runs a published draw offline:
//! `curl -s $B/events/1/fairness | cargo run --bin verify-draw -- --seed-hash <hash>`
//! where `<hash>` is the `seed_hash` you recorded before the draw (from the
//! event page while it was open). Exits 0 when that hash commits to the
//! published seed and the winners match the re-run. Without `--seed-hash`
//! it can only check the record against itself, and says so.

use std::io::Read;
use std::process::ExitCode;

use lottery::domain::fairness::{verify, FairnessRecord};

fn check(text: &str, recorded_hash: Option<&str>) -> Result<usize, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    // Accept the API envelope or its data alone.
    let data = value.get("data").cloned().unwrap_or(value);
    let record: FairnessRecord =
        serde_json::from_value(data).map_err(|e| format!("not a fairness record: {e}"))?;
    verify(&record, recorded_hash)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let recorded_hash = match args.as_slice() {
        [] => None,
        [flag, hash] if flag == "--seed-hash" => Some(hash.as_str()),
        _ => {
            eprintln!("usage: verify-draw [--seed-hash <seed_hash recorded before the draw>] < fairness.json");
            return ExitCode::from(2);
        }
    };
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("verify-draw: cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }
    match check(&text, recorded_hash) {
        Ok(n) if recorded_hash.is_some() => {
            println!("OK: the seed is the one committed to before the draw, and the {n} winners match the re-run");
            ExitCode::SUCCESS
        }
        Ok(n) => {
            println!(
                "OK: the seed matches the record's seed_hash and the {n} winners match the re-run"
            );
            println!("NOTE: pass --seed-hash with the hash you recorded before the draw to prove the seed was not replaced");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("MISMATCH: {e}");
            ExitCode::FAILURE
        }
    }
}
