//! The fairness record: everything `/fairness` publishes so that anyone can
//! re-run the draw and every re-draw offline (docs/FAIRNESS.md), and its
//! check, shared by `verify-draw`, the tests and the load tool.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::beacon_draw::{mixed_seed, BeaconRecord};
use crate::domain::draw::{draw, seed_hash, Award, PrizeSlots, RecordPrize, Seed, ALGORITHM};
use crate::domain::redraw::{self, Redraw};

/// Everything needed to re-run a draw offline: what `/fairness` publishes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FairnessRecord {
    pub algorithm: String,
    pub seed_hash: String,
    /// Hex; published once the event is drawn.
    pub seed: String,
    /// User ids in the order the algorithm takes them (ascending).
    pub participants: Vec<i64>,
    pub prizes: Vec<RecordPrize>,
    /// The draw's winners (round 1).
    pub winners: Vec<Award>,
    /// Re-draws of expired prizes, round 2 on (docs/FAIRNESS.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redraws: Vec<Redraw>,
    /// A beacon event's round, with which the seed was mixed (null: the
    /// seed alone). Records published before beacons existed lack it.
    #[serde(default)]
    #[schema(required)]
    pub beacon: Option<BeaconRecord>,
}

/// Checks a published record: the seed is the one committed to (the
/// `recorded_hash` a user noted before the draw, when given, and in any
/// case the record's own `seed_hash`), the participants are in canonical
/// order, and re-running the draw gives exactly the published winners.
/// Returns the number of winners. Without `recorded_hash` only the
/// record's own consistency is proven: a server could publish a new seed
/// with its new hash, which a hash recorded beforehand would catch.
pub fn verify(record: &FairnessRecord, recorded_hash: Option<&str>) -> Result<usize, String> {
    if record.algorithm != ALGORITHM {
        return Err(format!(
            "unknown algorithm {:?}; this verifier knows {ALGORITHM}",
            record.algorithm
        ));
    }
    if let Some(recorded) = recorded_hash {
        if !recorded.trim().eq_ignore_ascii_case(&record.seed_hash) {
            return Err(format!(
                "the record's seed_hash {} is not the one recorded before the draw ({})",
                record.seed_hash,
                recorded.trim()
            ));
        }
    }
    let seed = hex::decode(&record.seed).map_err(|_| "the seed is not hex".to_string())?;
    if seed_hash(&seed) != record.seed_hash.to_ascii_lowercase() {
        return Err("SHA-256(seed) does not match seed_hash".into());
    }
    let seed: Seed = seed
        .try_into()
        .map_err(|_| "the seed is not 32 bytes".to_string())?;
    // A beacon draw ran from SHA-256(seed ‖ randomness), over exactly the
    // participants whose hash was published when it started.
    let seed = match &record.beacon {
        Some(beacon) => mixed_seed(&seed, &beacon.check(&record.participants)?),
        None => seed,
    };
    if let Some(w) = record.participants.windows(2).find(|w| w[0] >= w[1]) {
        return Err(format!(
            "the participants must be in ascending order without repeats; {} comes before {}",
            w[0], w[1]
        ));
    }
    let slots: Vec<PrizeSlots> = record
        .prizes
        .iter()
        .map(|p| PrizeSlots {
            prize_id: p.id,
            quantity: p.quantity,
        })
        .collect();
    let mut expected = draw(&seed, &record.participants, &slots);
    let mut published = record.winners.clone();
    expected.sort_unstable();
    published.sort_unstable();
    if expected != published {
        return Err(format!(
            "the published winners are not the re-run's: published {published:?}, re-run {expected:?}"
        ));
    }
    let redrawn = redraw::verify_rounds(
        &seed,
        redraw::Rounds {
            participants: &record.participants,
            prizes: &record.prizes,
            first: &record.winners,
            redraws: &record.redraws,
        },
    )?;
    Ok(expected.len() + redrawn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::draw::canonical_order;

    fn prizes() -> Vec<PrizeSlots> {
        vec![
            PrizeSlots {
                prize_id: 10,
                quantity: 1,
            },
            PrizeSlots {
                prize_id: 11,
                quantity: 3,
            },
        ]
    }

    fn record() -> FairnessRecord {
        let seed = [5u8; 32];
        let participants: Vec<i64> = (1..=20).collect();
        FairnessRecord {
            algorithm: ALGORITHM.into(),
            seed_hash: seed_hash(&seed),
            seed: hex::encode(seed),
            winners: draw(&seed, &participants, &prizes()),
            participants,
            prizes: prizes()
                .iter()
                .map(|p| RecordPrize {
                    id: p.prize_id,
                    name: String::new(),
                    quantity: p.quantity,
                })
                .collect(),
            redraws: vec![],
            beacon: None,
        }
    }

    #[test]
    fn a_faithful_record_verifies_against_the_hash_recorded_before() {
        let r = record();
        assert_eq!(verify(&r, None), Ok(4));
        assert_eq!(verify(&r, Some(&r.seed_hash.to_uppercase())), Ok(4));
        let other = seed_hash(&[6u8; 32]);
        assert!(verify(&r, Some(&other))
            .unwrap_err()
            .contains("recorded before"));
    }

    #[test]
    fn tampered_records_are_refused() {
        let mut unsorted = record();
        unsorted.participants.swap(0, 1);
        assert!(verify(&unsorted, None).unwrap_err().contains("ascending"));
        let mut repeated = record();
        repeated.participants[1] = repeated.participants[0];
        assert!(verify(&repeated, None).unwrap_err().contains("repeats"));
        let mut other_winner = record();
        other_winner.winners[0].user_id = 999;
        assert!(verify(&other_winner, None).unwrap_err().contains("winners"));
        let mut swapped_seed = record();
        swapped_seed.seed = hex::encode([6u8; 32]);
        assert!(verify(&swapped_seed, None)
            .unwrap_err()
            .contains("seed_hash"));
    }

    #[test]
    fn canonical_order_sorts_and_dedups() {
        assert_eq!(canonical_order(vec![3, 1, 3, 2]), vec![1, 2, 3]);
    }
}
