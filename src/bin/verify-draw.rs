//! Re-runs a published draw offline:
//! `curl -s $B/events/1/fairness | cargo run --bin verify-draw -- --seed-hash <hash>`
//! where `<hash>` is the `seed_hash` you recorded before the draw (from the
//! event page while it was open). Exits 0 when that hash commits to the
//! published seed and the winners match the re-run. Without `--seed-hash`
//! it can only check the record against itself, and says so.
//!
//! A beacon draw (the record's `beacon` is not null) is checked further:
//! the participants against the hash published when the draw started, the
//! randomness against the round's signature, the signature against the
//! chain's key, and the round against the list's fixing time. The chain
//! comes from `--chain-info FILE` (its `/info`, e.g. saved with curl), from
//! `--beacon-url URL` (a drand relay, asked for the chain and the round),
//! or, for drand's quicknet, from what this program carries: offline.
//! Whatever its source, the chain is believed only when its fields hash to
//! the record's chain hash.

use std::io::Read;
use std::process::ExitCode;

use lottery::beacon::chain::{hash32, Chain, InfoJson, QUICKNET_HASH, QUICKNET_INFO};
use lottery::domain::fairness::{verify, FairnessRecord};

const USAGE: &str = "usage: verify-draw [--seed-hash <seed_hash recorded before the draw>] \
                     [--chain-info <drand /info JSON file> | --beacon-url <drand relay URL>] \
                     < fairness.json";

struct Args {
    recorded_hash: Option<String>,
    chain_info: Option<String>,
    beacon_url: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        recorded_hash: None,
        chain_info: None,
        beacon_url: None,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let slot = match flag.as_str() {
            "--seed-hash" => &mut args.recorded_hash,
            "--chain-info" => &mut args.chain_info,
            "--beacon-url" => &mut args.beacon_url,
            other => return Err(format!("unknown argument {other:?}")),
        };
        *slot = Some(given.next().ok_or(format!("{flag} needs a value"))?);
    }
    if args.chain_info.is_some() && args.beacon_url.is_some() {
        return Err("give --chain-info or --beacon-url, not both".into());
    }
    Ok(args)
}

fn record(text: &str) -> Result<FairnessRecord, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    // Accept the API envelope or its data alone.
    let data = value.get("data").cloned().unwrap_or(value);
    serde_json::from_value(data).map_err(|e| format!("not a fairness record: {e}"))
}

fn chain_hash_bytes(hex_hash: &str) -> Result<[u8; 32], String> {
    hash32(hex_hash)
        .ok_or_else(|| format!("the record's chain_hash {hex_hash:?} is not 64 hex digits"))
}

/// `url`'s JSON answer, any failure named with the URL.
async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, String> {
    let answer = reqwest::get(url)
        .await
        .and_then(|answer| answer.error_for_status())
        .map_err(|e| format!("{url}: {e}"))?;
    answer.json().await.map_err(|e| format!("{url}: {e}"))
}

/// The chain the record names, from where the user said, authenticated by
/// the record's chain hash.
async fn chain_for(args: &Args, chain_hash: &str) -> Result<(Chain, &'static str), String> {
    let expected = chain_hash_bytes(chain_hash)?;
    let (info, source): (InfoJson, &'static str) = if let Some(file) = &args.chain_info {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
        let info = serde_json::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
        (info, "the chain information given")
    } else if let Some(url) = &args.beacon_url {
        let url = format!("{}/{chain_hash}/info", url.trim_end_matches('/'));
        (get_json(&url).await?, "the beacon")
    } else if chain_hash.eq_ignore_ascii_case(QUICKNET_HASH) {
        let info = serde_json::from_str(QUICKNET_INFO).map_err(|e| e.to_string())?;
        (info, "quicknet's information this program carries")
    } else {
        return Err(format!(
            "the draw used drand chain {chain_hash}, which this program does not carry: \
             pass --chain-info with its /info or --beacon-url with a relay"
        ));
    };
    Ok((Chain::authenticate(&info, &expected)?, source))
}

/// With `--beacon-url`: the relay's round is the one the record holds.
async fn same_round_online(url: &str, record: &FairnessRecord) -> Result<(), String> {
    let Some(beacon) = &record.beacon else {
        return Ok(());
    };
    let url = format!(
        "{}/{}/public/{}",
        url.trim_end_matches('/'),
        beacon.chain_hash,
        beacon.round
    );
    let round: serde_json::Value = get_json(&url).await?;
    let published = round
        .get("signature")
        .and_then(|s| s.as_str())
        .map(str::to_ascii_lowercase);
    if published.is_none() || published != beacon.signature {
        return Err(format!(
            "the beacon's round {} has signature {published:?}, the record {:?}",
            beacon.round, beacon.signature
        ));
    }
    Ok(())
}

async fn check(text: &str, args: &Args) -> Result<Vec<String>, String> {
    let record = record(text)?;
    let winners = verify(&record, args.recorded_hash.as_deref())?;
    let mut said = Vec::new();
    if args.recorded_hash.is_some() {
        said.push(format!(
            "OK: the seed is the one committed to before the draw, and the {winners} winners match the re-run"
        ));
    } else {
        said.push(format!(
            "OK: the seed matches the record's seed_hash and the {winners} winners match the re-run"
        ));
        said.push("NOTE: pass --seed-hash with the hash you recorded before the draw to prove the seed was not replaced".into());
    }
    if let Some(beacon) = &record.beacon {
        let (chain, source) = chain_for(args, &beacon.chain_hash).await?;
        beacon.check_with_chain(&chain)?;
        if let Some(url) = &args.beacon_url {
            same_round_online(url, &record).await?;
        }
        said.push(format!(
            "OK: drand round {} of chain {} (from {source}) is signed by the chain's key, is the first \
             published after the participant list was fixed ({}), and its randomness is the one mixed in",
            beacon.round, beacon.chain_hash, beacon.fixed_at
        ));
        said.push(format!(
            "NOTE: compare participants_hash {} with the one the event page showed when the draw started",
            beacon.participants_hash
        ));
    }
    Ok(said)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("verify-draw: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("verify-draw: cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }
    match check(&text, &args).await {
        Ok(said) => {
            for line in said {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("MISMATCH: {e}");
            ExitCode::FAILURE
        }
    }
}
