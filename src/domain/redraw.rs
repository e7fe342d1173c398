//! Re-draws (round k = 2, 3, …): each prize whose claim expired goes again
//! to a participant who has won nothing in the event, by the draw's own
//! algorithm with a round-specific key, so anyone can re-run every round
//! from `/fairness` alone (docs/FAIRNESS.md, "Re-draws"):
//!
//! 1. Eligible: the draw's participants (canonical order) without every
//!    user who won in rounds 1 … k-1 (expired claims included).
//! 2. Slots: the prize of each expired claim this round re-draws, in the
//!    prizes' listed order (so the server has no choice of order).
//! 3. Key: SHA-256(seed ‖ "redraw" ‖ k as 8 bytes big-endian ‖ each
//!    eligible user id as 8 bytes big-endian), into ChaCha20 as in round 1;
//!    then the same partial Fisher–Yates over the eligible list.

use std::collections::{HashMap, HashSet};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::domain::draw::{pick, Award, RecordPrize, Seed};

/// One re-draw as `/fairness` publishes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Redraw {
    pub round: u32,
    /// The earlier awards whose claims expired and went again this round.
    pub expired: Vec<Award>,
    pub winners: Vec<Award>,
}

/// Step 2: the prizes to re-draw, in the prizes' listed order.
pub fn slots(prizes: &[RecordPrize], expired: &[Award]) -> Vec<i64> {
    let position: HashMap<i64, usize> = prizes.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let mut slots: Vec<i64> = expired.iter().map(|a| a.prize_id).collect();
    slots.sort_by_key(|id| (position.get(id).copied().unwrap_or(usize::MAX), *id));
    slots
}

/// Step 1: the participants who have won nothing so far.
pub fn eligible(participants: &[i64], earlier_winners: &HashSet<i64>) -> Vec<i64> {
    participants
        .iter()
        .copied()
        .filter(|id| !earlier_winners.contains(id))
        .collect()
}

fn rng_for_round(seed: &Seed, round: u32, eligible: &[i64]) -> ChaCha20Rng {
    let mut hasher = Sha256::new();
    hasher.update(seed);
    hasher.update(b"redraw");
    hasher.update(u64::from(round).to_be_bytes());
    for id in eligible {
        hasher.update(id.to_be_bytes());
    }
    ChaCha20Rng::from_seed(hasher.finalize().into())
}

/// Round `round`'s winners: one distinct eligible participant per slot
/// (fewer when too few are left).
pub fn redraw(seed: &Seed, round: u32, eligible: &[i64], slots: Vec<i64>) -> Vec<Award> {
    pick(rng_for_round(seed, round, eligible), eligible, slots)
}

/// What a fairness record says of the rounds: the participants, the
/// prizes, round 1's winners and the re-draws.
pub struct Rounds<'a> {
    pub participants: &'a [i64],
    pub prizes: &'a [RecordPrize],
    pub first: &'a [Award],
    pub redraws: &'a [Redraw],
}

/// Re-runs every published re-draw in order; the number of its winners.
pub fn verify_rounds(seed: &Seed, record: Rounds<'_>) -> Result<usize, String> {
    let mut won: HashSet<i64> = record.first.iter().map(|a| a.user_id).collect();
    let mut awarded: HashSet<Award> = record.first.iter().copied().collect();
    let mut total = 0;
    for (i, round) in record.redraws.iter().enumerate() {
        if round.round as usize != i + 2 {
            return Err(format!(
                "re-draw {} is numbered {}; rounds go 2, 3, …",
                i + 1,
                round.round
            ));
        }
        if let Some(a) = round.expired.iter().find(|a| !awarded.contains(a)) {
            return Err(format!(
                "round {}: the expired award {a:?} was never drawn",
                round.round
            ));
        }
        let eligible = eligible(record.participants, &won);
        let mut expected = redraw(
            seed,
            round.round,
            &eligible,
            slots(record.prizes, &round.expired),
        );
        let mut published = round.winners.clone();
        expected.sort_unstable();
        published.sort_unstable();
        if expected != published {
            return Err(format!(
                "round {}: the published winners are not the re-run's: published {published:?}, re-run {expected:?}",
                round.round
            ));
        }
        for award in &round.expired {
            awarded.remove(award);
        }
        won.extend(expected.iter().map(|a| a.user_id));
        awarded.extend(expected.iter().copied());
        total += expected.len();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::draw::{draw, PrizeSlots};

    fn prizes() -> Vec<RecordPrize> {
        vec![
            RecordPrize {
                id: 10,
                name: "gold".into(),
                quantity: 1,
            },
            RecordPrize {
                id: 20,
                name: "silver".into(),
                quantity: 2,
            },
        ]
    }

    /// A record of a draw among 1..=50 and two re-draws, built the way
    /// the server builds them.
    #[derive(Clone)]
    struct Record {
        participants: Vec<i64>,
        prizes: Vec<RecordPrize>,
        winners: Vec<Award>,
        redraws: Vec<Redraw>,
    }

    impl Record {
        fn rounds(&self) -> Rounds<'_> {
            Rounds {
                participants: &self.participants,
                prizes: &self.prizes,
                first: &self.winners,
                redraws: &self.redraws,
            }
        }
    }

    fn record_with_redraws() -> Record {
        let seed = [7u8; 32];
        let participants: Vec<i64> = (1..=50).collect();
        let slots: Vec<PrizeSlots> = prizes()
            .iter()
            .map(|p| PrizeSlots {
                prize_id: p.id,
                quantity: p.quantity,
            })
            .collect();
        let winners = draw(&seed, &participants, &slots);
        let mut won: HashSet<i64> = winners.iter().map(|a| a.user_id).collect();
        // Round 2: the gold and one silver expired.
        let expired2 = vec![winners[2], winners[0]];
        let r2 = redraw(
            &seed,
            2,
            &eligible(&participants, &won),
            slots_of(&expired2),
        );
        won.extend(r2.iter().map(|a| a.user_id));
        // Round 3: round 2's gold expired.
        let expired3: Vec<Award> = r2.iter().copied().filter(|a| a.prize_id == 10).collect();
        let r3 = redraw(
            &seed,
            3,
            &eligible(&participants, &won),
            slots_of(&expired3),
        );
        Record {
            participants,
            prizes: prizes(),
            winners,
            redraws: vec![
                Redraw {
                    round: 2,
                    expired: expired2,
                    winners: r2,
                },
                Redraw {
                    round: 3,
                    expired: expired3,
                    winners: r3,
                },
            ],
        }
    }

    fn slots_of(expired: &[Award]) -> Vec<i64> {
        slots(&prizes(), expired)
    }

    #[test]
    fn slots_follow_the_listed_prizes_whatever_order_they_expired_in() {
        let a = |prize_id| Award {
            user_id: 1,
            prize_id,
        };
        assert_eq!(slots(&prizes(), &[a(20), a(10), a(20)]), vec![10, 20, 20]);
    }

    #[test]
    fn a_redraw_picks_only_those_who_won_nothing() {
        let record = record_with_redraws();
        let mut seen = HashSet::new();
        for award in record
            .winners
            .iter()
            .chain(record.redraws.iter().flat_map(|r| r.winners.iter()))
        {
            assert!(seen.insert(award.user_id), "{} won twice", award.user_id);
        }
        assert_eq!(record.redraws[0].winners.len(), 2);
        assert_eq!(record.redraws[1].winners.len(), 1);
        assert_eq!(record.redraws[1].winners[0].prize_id, 10);
    }

    #[test]
    fn every_round_verifies_and_a_changed_one_does_not() {
        let record = record_with_redraws();
        assert_eq!(verify_rounds(&[7u8; 32], record.rounds()), Ok(3));

        let mut forged = record.clone();
        forged.redraws[1].winners[0].user_id = forged.participants[0];
        assert!(verify_rounds(&[7u8; 32], forged.rounds()).is_err());

        let mut renumbered = record.clone();
        renumbered.redraws[0].round = 5;
        assert!(verify_rounds(&[7u8; 32], renumbered.rounds()).is_err());

        let mut invented = record;
        invented.redraws[0].expired.push(Award {
            user_id: 999,
            prize_id: 10,
        });
        assert!(verify_rounds(&[7u8; 32], invented.rounds()).is_err());
    }

    #[test]
    fn the_round_keys_the_randomness() {
        let eligible: Vec<i64> = (1..=1000).collect();
        let two = redraw(&[1u8; 32], 2, &eligible, vec![5]);
        let three = redraw(&[1u8; 32], 3, &eligible, vec![5]);
        assert_ne!(two, three);
        assert_eq!(two, redraw(&[1u8; 32], 2, &eligible, vec![5]));
    }
}
