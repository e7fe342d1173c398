//! The commit-reveal draw. docs/FAIRNESS.md describes it for people who want
//! to re-run a draw; this file is the reference implementation.
//!
//! 1. At creation a random 32-byte seed is drawn; only SHA-256(seed) is shown.
//! 2. The participants are taken in ascending user id order.
//! 3. The RNG key is SHA-256(seed ‖ each user id as 8 bytes big-endian), fed
//!    to ChaCha20 (rand_chacha's `ChaCha20Rng::from_seed`, stream 0).
//! 4. Prize slots are the prizes in their listed order, each repeated
//!    `quantity` times. A partial Fisher–Yates shuffle picks one distinct
//!    participant per slot: for slot i, j = i + below(n - i), swap(i, j).
//!    `below(m)` takes `next_u64()` values, rejects those at or above
//!    2^64 - (2^64 mod m) so every residue is equally likely, and returns x mod m.
//! 5. With fewer participants than slots, the trailing slots stay unawarded.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

pub const ALGORITHM: &str = "sha256-chacha20-fisher-yates-v1";

pub type Seed = [u8; 32];

pub fn new_seed() -> Seed {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    seed
}

pub fn seed_hash(seed: &[u8]) -> String {
    hex::encode(Sha256::digest(seed))
}

/// One prize kind as the draw sees it: its id and how many there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrizeSlots {
    pub prize_id: i64,
    pub quantity: u32,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub struct Award {
    pub user_id: i64,
    pub prize_id: i64,
}

/// The order in which the algorithm takes the participants.
pub fn canonical_order(mut user_ids: Vec<i64>) -> Vec<i64> {
    user_ids.sort_unstable();
    user_ids.dedup();
    user_ids
}

pub(crate) fn rng_for(seed: &Seed, participants: &[i64]) -> ChaCha20Rng {
    let mut hasher = Sha256::new();
    hasher.update(seed);
    for id in participants {
        hasher.update(id.to_be_bytes());
    }
    ChaCha20Rng::from_seed(hasher.finalize().into())
}

/// A uniform integer in `0..m` without modulo bias.
fn below(rng: &mut ChaCha20Rng, m: u64) -> u64 {
    debug_assert!(m > 0);
    // 2^64 mod m: the size of the biased tail that is rejected.
    let tail = (u64::MAX % m + 1) % m;
    loop {
        let x = rng.next_u64();
        if tail == 0 || x < 0u64.wrapping_sub(tail) {
            return x % m;
        }
    }
}

/// Draws the winners. `participants` must be in canonical order.
pub fn draw(seed: &Seed, participants: &[i64], prizes: &[PrizeSlots]) -> Vec<Award> {
    let slots: Vec<i64> = prizes
        .iter()
        .flat_map(|p| std::iter::repeat_n(p.prize_id, p.quantity as usize))
        .collect();
    pick(rng_for(seed, participants), participants, slots)
}

/// Step 4 and 5: one distinct participant per slot, by a partial
/// Fisher–Yates shuffle of `participants` (canonical order).
pub(crate) fn pick(mut rng: ChaCha20Rng, participants: &[i64], slots: Vec<i64>) -> Vec<Award> {
    let mut pool = participants.to_vec();
    let n = pool.len();
    let picks = slots.len().min(n);
    let mut awards = Vec::with_capacity(picks);
    for (i, prize_id) in slots.into_iter().take(picks).enumerate() {
        let j = i + below(&mut rng, (n - i) as u64) as usize;
        pool.swap(i, j);
        awards.push(Award {
            user_id: pool[i],
            prize_id,
        });
    }
    awards
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordPrize {
    pub id: i64,
    #[serde(default)]
    #[schema(required)]
    pub name: String,
    pub quantity: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

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

    #[test]
    fn winners_are_distinct_participants_and_quantities_hold() {
        let people: Vec<i64> = (1..=50).collect();
        let awards = draw(&[7; 32], &people, &prizes());
        assert_eq!(awards.len(), 4);
        let users: HashSet<i64> = awards.iter().map(|a| a.user_id).collect();
        assert_eq!(users.len(), 4);
        assert!(users.iter().all(|u| people.contains(u)));
        let mut per_prize: HashMap<i64, u32> = HashMap::new();
        for a in &awards {
            *per_prize.entry(a.prize_id).or_default() += 1;
        }
        assert_eq!(per_prize[&10], 1);
        assert_eq!(per_prize[&11], 3);
    }

    #[test]
    fn fewer_participants_than_prizes_all_win_and_first_prizes_go_first() {
        let awards = draw(&[1; 32], &[5, 9], &prizes());
        assert_eq!(awards.len(), 2);
        let users: HashSet<i64> = awards.iter().map(|a| a.user_id).collect();
        assert_eq!(users, HashSet::from([5, 9]));
        assert_eq!(awards[0].prize_id, 10);
        assert_eq!(awards[1].prize_id, 11);
        assert!(draw(&[1; 32], &[], &prizes()).is_empty());
    }

    #[test]
    fn same_seed_and_participants_give_the_same_result() {
        let people: Vec<i64> = (100..400).collect();
        assert_eq!(
            draw(&[3; 32], &people, &prizes()),
            draw(&[3; 32], &people, &prizes())
        );
        assert_ne!(
            draw(&[3; 32], &people, &prizes()),
            draw(&[4; 32], &people, &prizes())
        );
    }

    #[test]
    fn known_answer_pins_the_published_algorithm() {
        // If this changes, every published draw stops being verifiable.
        let people: Vec<i64> = (1..=10).collect();
        let got: Vec<(i64, i64)> = draw(&[0; 32], &people, &prizes())
            .iter()
            .map(|a| (a.user_id, a.prize_id))
            .collect();
        assert_eq!(got, KNOWN_ANSWER);
    }
    const KNOWN_ANSWER: [(i64, i64); 4] = [(2, 10), (4, 11), (9, 11), (7, 11)];

    #[test]
    fn draw_is_roughly_uniform() {
        let people: Vec<i64> = (1..=10).collect();
        let one = [PrizeSlots {
            prize_id: 1,
            quantity: 1,
        }];
        let mut wins: HashMap<i64, u32> = HashMap::new();
        for s in 0..10_000u32 {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&s.to_le_bytes());
            *wins
                .entry(draw(&seed, &people, &one)[0].user_id)
                .or_default() += 1;
        }
        // 1,000 expected each; ±20% is far outside chance for a fair draw.
        assert!(
            wins.values().all(|&w| (800..=1200).contains(&w)),
            "{wins:?}"
        );
    }

    #[test]
    fn below_is_in_range() {
        let mut rng = ChaCha20Rng::from_seed([9; 32]);
        for m in [1u64, 2, 3, 7, 1 << 40, u64::MAX] {
            for _ in 0..100 {
                assert!(below(&mut rng, m) < m);
            }
        }
    }

    #[test]
    fn seed_hash_is_sha256_hex() {
        assert_eq!(
            seed_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
