//! An event's participants as the event actor sees them: what the database
//! holds (`committed`), the batch being committed (`in_flight`), and the
//! requests queued behind it (`queued`). Pure: no I/O, no clock.
//!
//! Every join and leave is decided against committed + in flight + queued,
//! so answers come in mailbox order. Answers are only released once the
//! batch holding the request committed. When a commit fails, its requests
//! get 503 and the ones queued behind it are decided again against what the
//! database really holds (the actor reloads it first: a commit that failed
//! may still have applied), so no answer ever rests on an undone write.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::domain::count::ParticipantCount;
use crate::domain::event as rules;
use crate::domain::join_rules::{self, Proof};
use crate::domain::subscription::Subscriptions;
use crate::error::AppError;

/// The committed participants (user id → the messages they accepted). The model
/// writes it; the event's live page shares it with the views, which read.
pub type Committed = Arc<RwLock<HashMap<i64, Subscriptions>>>;

/// A user's participation as acknowledged to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Membership {
    pub joined: bool,
    pub participant_count: ParticipantCount,
}

/// The net effect of one batch of joins and leaves: the rows to write.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MemberWrites {
    /// New participations: (user id, what they accepted).
    pub joins: Vec<(i64, Subscriptions)>,
    /// Participants who accepted the result message after they had joined.
    pub notify_on: Vec<i64>,
    /// Participants who accepted the claim reminder after they had joined.
    pub remind_on: Vec<i64>,
    pub leaves: Vec<i64>,
    /// The participant count once the batch is applied.
    pub count: ParticipantCount,
}

impl MemberWrites {
    /// No participant row changes.
    pub fn rows_unchanged(&self) -> bool {
        self.joins.is_empty()
            && self.notify_on.is_empty()
            && self.remind_on.is_empty()
            && self.leaves.is_empty()
    }
}

/// What a user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// `proof`: what the joiner showed of the event's join rules; judged
    /// for a new participant only (a member's repeat join proved it once).
    Join {
        accepted: Subscriptions,
        proof: Proof,
    },
    Leave,
}

/// A request with the answer it gets once its batch commits.
struct Waiting<R> {
    user_id: i64,
    change: Change,
    reply: R,
    answer: Membership,
}

/// Decisions on top of the state below them: each touched user's state
/// after the batch (`None`: not a participant, `Some(accepted)`: one).
struct Batch<R> {
    after: HashMap<i64, Option<Subscriptions>>,
    waiting: Vec<Waiting<R>>,
}

impl<R> Default for Batch<R> {
    fn default() -> Self {
        Self {
            after: HashMap::new(),
            waiting: Vec::new(),
        }
    }
}

/// The answers a finished batch releases.
pub struct Released<R> {
    pub answered: Vec<(R, Membership)>,
    /// Requests of a failed batch: they get 503.
    pub failed: Vec<R>,
    /// Queued requests that, decided again, are refused (a join that no
    /// longer fits).
    pub refused: Vec<(R, AppError)>,
}

pub struct Members<R> {
    /// Shared with the event's live page, which views read.
    committed: Committed,
    max_participants: Option<i32>,
    in_flight: Option<Batch<R>>,
    queued: Batch<R>,
    /// Participants once everything in flight and queued is applied.
    count: ParticipantCount,
}

impl<R> Members<R> {
    pub fn new(
        committed: impl IntoIterator<Item = (i64, Subscriptions)>,
        max: Option<i32>,
    ) -> Self {
        let committed: HashMap<i64, Subscriptions> = committed.into_iter().collect();
        Self {
            count: ParticipantCount::of(committed.len()),
            committed: Arc::new(RwLock::new(committed)),
            max_participants: max,
            in_flight: None,
            queued: Batch::default(),
        }
    }

    /// Participants once everything decided is committed: what answers show.
    pub fn count(&self) -> ParticipantCount {
        self.count
    }

    /// Participants the database holds.
    pub fn committed_count(&self) -> ParticipantCount {
        ParticipantCount::of(self.committed.read().len())
    }

    /// The committed participants, for the live page's readers.
    pub fn committed_handle(&self) -> Committed {
        self.committed.clone()
    }

    pub fn is_flushing(&self) -> bool {
        self.in_flight.is_some()
    }

    pub fn has_queued(&self) -> bool {
        !self.queued.waiting.is_empty()
    }

    /// The user's state with every decision so far applied.
    fn state_of(&self, user_id: i64) -> Option<Subscriptions> {
        if let Some(after) = self.queued.after.get(&user_id) {
            return *after;
        }
        if let Some(after) = self.in_flight.as_ref().and_then(|b| b.after.get(&user_id)) {
            return *after;
        }
        self.committed.read().get(&user_id).copied()
    }

    /// Decides a request (the caller has checked that the event is open)
    /// and queues it for the next batch. A refused request hands its reply
    /// back with the reason.
    pub fn decide(&mut self, user_id: i64, change: Change, reply: R) -> Result<(), (R, AppError)> {
        let before = self.state_of(user_id);
        let after = match (change, before) {
            (Change::Join { accepted, .. }, Some(had)) => Some(had.with(accepted)),
            (Change::Join { accepted, proof }, None) => {
                let allowed = join_rules::check_join(proof)
                    .and_then(|()| rules::check_capacity(self.count, self.max_participants));
                if let Err(err) = allowed {
                    return Err((reply, err));
                }
                Some(accepted)
            }
            (Change::Leave, _) => None,
        };
        self.count = self.count.changed(before.is_some(), after.is_some());
        // A leave is recorded even for a user not known as a participant:
        // the batch then deletes whatever row the database may still hold.
        if after != before || change == Change::Leave {
            self.queued.after.insert(user_id, after);
        }
        let answer = Membership {
            joined: after.is_some(),
            participant_count: self.count,
        };
        self.queued.waiting.push(Waiting {
            user_id,
            change,
            reply,
            answer,
        });
        Ok(())
    }

    /// Whether the queued decisions filled a `when_full` event.
    pub fn is_filled(&self, mode: rules::DrawMode) -> bool {
        rules::is_filled(mode, self.count, self.max_participants)
    }

    /// Moves the queued requests into flight and returns the writes they
    /// need (`count` is the participant count once they are applied). A
    /// batch is in flight until `committed` or `failed` is called.
    pub fn start_batch(&mut self) -> MemberWrites {
        assert!(self.in_flight.is_none(), "one batch in flight at a time");
        let batch = std::mem::take(&mut self.queued);
        let mut changes = MemberWrites {
            count: self.count,
            ..Default::default()
        };
        let committed = self.committed.read();
        for (&user_id, &after) in &batch.after {
            match (committed.get(&user_id), after) {
                (_, None) => changes.leaves.push(user_id),
                (None, Some(accepted)) => changes.joins.push((user_id, accepted)),
                (Some(had), Some(accepted)) => {
                    if accepted.result && !had.result {
                        changes.notify_on.push(user_id);
                    }
                    if accepted.claim_reminder && !had.claim_reminder {
                        changes.remind_on.push(user_id);
                    }
                }
            }
        }
        // A fixed order: the script (and any deadlock between two writers)
        // does not depend on hash order.
        changes.joins.sort_unstable_by_key(|&(user_id, _)| user_id);
        changes.leaves.sort_unstable();
        changes.notify_on.sort_unstable();
        changes.remind_on.sort_unstable();
        drop(committed);
        self.in_flight = Some(batch);
        changes
    }

    /// The batch in flight is stored: its answers go out.
    pub fn committed(&mut self) -> Released<R> {
        let batch = self.in_flight.take().expect("a batch in flight");
        let mut committed = self.committed.write();
        for (user_id, after) in batch.after {
            match after {
                Some(accepted) => committed.insert(user_id, accepted),
                None => committed.remove(&user_id),
            };
        }
        drop(committed);
        Released {
            answered: batch
                .waiting
                .into_iter()
                .map(|w| (w.reply, w.answer))
                .collect(),
            failed: vec![],
            refused: vec![],
        }
    }

    /// The batch in flight failed. `stored` is what the database holds now
    /// (a commit that reported an error may have applied): it replaces the
    /// committed state, and every queued request is decided again on it.
    pub fn failed(
        &mut self,
        stored: impl IntoIterator<Item = (i64, Subscriptions)>,
    ) -> Released<R> {
        let batch = self.in_flight.take().expect("a batch in flight");
        *self.committed.write() = stored.into_iter().collect();
        self.count = self.committed_count();
        let queued = std::mem::take(&mut self.queued);
        let mut refused = vec![];
        for w in queued.waiting {
            if let Err(refusal) = self.decide(w.user_id, w.change, w.reply) {
                refused.push(refusal);
            }
        }
        Released {
            answered: vec![],
            failed: batch.waiting.into_iter().map(|w| w.reply).collect(),
            refused,
        }
    }

    /// Every request not yet answered, when the actor gives up (the
    /// database could not even be read): they all get 503.
    pub fn abandon(&mut self) -> Vec<R> {
        let in_flight = self.in_flight.take().map(|b| b.waiting).unwrap_or_default();
        let queued = std::mem::take(&mut self.queued).waiting;
        in_flight
            .into_iter()
            .chain(queued)
            .map(|w| w.reply)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOIN: Change = Change::Join {
        accepted: Subscriptions::NONE,
        proof: Proof::ALL,
    };
    const RESULT: Subscriptions = Subscriptions {
        result: true,
        claim_reminder: false,
    };
    const JOIN_NOTIFY: Change = Change::Join {
        accepted: RESULT,
        proof: Proof::ALL,
    };

    /// (user, asked for the result) as the model holds it.
    fn rows(pairs: &[(i64, bool)]) -> Vec<(i64, Subscriptions)> {
        pairs
            .iter()
            .map(|&(id, notify)| (id, if notify { RESULT } else { Subscriptions::NONE }))
            .collect()
    }

    /// Replies are plain tags in these tests: which request got what.
    fn members(committed: &[(i64, bool)], max: Option<i32>) -> Members<&'static str> {
        Members::new(rows(committed), max)
    }

    fn answers(released: &Released<&'static str>) -> Vec<(&'static str, bool, usize)> {
        released
            .answered
            .iter()
            .map(|(tag, m)| (*tag, m.joined, m.participant_count.get() as usize))
            .collect()
    }

    #[test]
    fn a_batch_writes_the_net_effect_and_answers_after_its_commit() {
        let mut m = members(&[(1, false), (2, true)], None);
        m.decide(3, JOIN, "join 3").unwrap();
        m.decide(3, JOIN_NOTIFY, "again 3").unwrap();
        m.decide(1, JOIN_NOTIFY, "notify 1").unwrap();
        m.decide(2, Change::Leave, "leave 2").unwrap();
        assert_eq!(m.count().get(), 2);
        let changes = m.start_batch();
        assert_eq!(changes.joins, rows(&[(3, true)]));
        assert_eq!(changes.notify_on, vec![1]);
        assert_eq!(changes.leaves, vec![2]);
        assert_eq!(changes.count.get(), 2);
        assert_eq!(
            m.committed_count().get(),
            2,
            "nothing committed before the commit"
        );
        let released = m.committed();
        assert_eq!(
            answers(&released),
            vec![
                ("join 3", true, 3),
                ("again 3", true, 3),
                ("notify 1", true, 3),
                ("leave 2", false, 2)
            ]
        );
        assert_eq!(m.committed_count().get(), 2);
    }

    #[test]
    fn a_leave_always_deletes_even_for_an_unknown_user() {
        let mut m = members(&[], None);
        m.decide(9, Change::Leave, "leave").unwrap();
        assert_eq!(m.start_batch().leaves, vec![9]);
        assert_eq!(answers(&m.committed()), vec![("leave", false, 0)]);
    }

    #[test]
    fn a_repeated_join_writes_nothing_but_still_waits_for_its_batch() {
        let mut m = members(&[(1, true)], None);
        m.decide(1, JOIN, "again").unwrap();
        let changes = m.start_batch();
        assert!(changes.rows_unchanged());
        assert_eq!(answers(&m.committed()), vec![("again", true, 1)]);
    }

    #[test]
    fn requests_queued_behind_a_failed_batch_are_decided_again() {
        // The example: U joins (batch A in flight), U retries with
        // notify (queued, no write of its own), A fails.
        let mut m = members(&[], None);
        m.decide(7, JOIN, "first").unwrap();
        let a = m.start_batch();
        assert_eq!(a.joins, rows(&[(7, false)]));
        m.decide(7, JOIN_NOTIFY, "retry").unwrap();
        m.decide(8, Change::Leave, "leave 8").unwrap();
        let released = m.failed(rows(&[]));
        assert_eq!(released.failed, vec!["first"]);
        assert!(released.answered.is_empty() && released.refused.is_empty());
        // The retry now carries the insert itself, with its own notify.
        let b = m.start_batch();
        assert_eq!(b.joins, rows(&[(7, true)]));
        assert_eq!(b.leaves, vec![8]);
        assert_eq!(
            answers(&m.committed()),
            vec![("retry", true, 1), ("leave 8", false, 1)]
        );
    }

    #[test]
    fn a_failed_commit_that_applied_is_learnt_from_the_reload() {
        let mut m = members(&[], Some(1));
        m.decide(1, JOIN, "join 1").unwrap();
        m.start_batch();
        m.decide(1, Change::Leave, "leave 1").unwrap();
        // The commit reported an error but its row is there (and another
        // instance's join took the last place meanwhile).
        let released = m.failed(rows(&[(1, false), (5, false)]));
        assert_eq!(released.failed, vec!["join 1"]);
        let b = m.start_batch();
        assert_eq!(b.leaves, vec![1], "the leave deletes the row that exists");
        assert_eq!(b.count.get(), 1);
        assert_eq!(answers(&m.committed()), vec![("leave 1", false, 1)]);
        assert_eq!(m.decide(2, JOIN, "join 2").unwrap_err().1.code(), 40902);
    }

    #[test]
    fn a_queued_join_that_no_longer_fits_is_refused_on_redecision() {
        let mut m = members(&[(1, false)], Some(2));
        m.decide(1, Change::Leave, "leave 1").unwrap();
        m.start_batch();
        m.decide(2, JOIN, "join 2").unwrap(); // fits while 1 is leaving
        let released = m.failed(rows(&[(1, false), (3, false)]));
        assert_eq!(released.refused.len(), 1);
        assert_eq!(released.refused[0].0, "join 2");
        assert_eq!(released.refused[0].1.code(), 40902);
        assert_eq!(m.count().get(), 2);
        assert!(!m.has_queued());
    }

    #[test]
    fn capacity_counts_queued_and_in_flight_joins() {
        let mut m = members(&[], Some(2));
        m.decide(1, JOIN, "1").unwrap();
        m.start_batch();
        m.decide(2, JOIN, "2").unwrap();
        assert!(m.is_filled(rules::DrawMode::WhenFull));
        assert_eq!(m.decide(3, JOIN, "3").unwrap_err().1.code(), 40902);
        m.decide(1, JOIN, "1 again").unwrap();
        assert_eq!(m.abandon(), vec!["1", "2", "1 again"]);
    }

    #[test]
    fn join_rules_bind_new_participants_only() {
        let mut m = members(&[(1, false)], None);
        let no_password = Change::Join {
            accepted: Subscriptions::NONE,
            proof: Proof {
                password: false,
                ..Proof::ALL
            },
        };
        let no_group = Change::Join {
            accepted: Subscriptions::NONE,
            proof: Proof {
                group: false,
                ..Proof::ALL
            },
        };
        let (reply, err) = m.decide(2, no_password, "stranger").unwrap_err();
        assert_eq!((reply, err.code()), ("stranger", 40310));
        assert_eq!(
            m.decide(2, no_group, "stranger").unwrap_err().1.code(),
            40311
        );
        // Already in: a repeat join (to accept a notice) needs no proof.
        m.decide(1, no_password, "member").unwrap();
        assert!(m.start_batch().rows_unchanged());
    }

    #[test]
    fn a_second_acceptance_of_a_participant_is_written_once() {
        let mut m = members(&[(1, true), (2, false)], None);
        let remind = Change::Join {
            accepted: Subscriptions {
                result: false,
                claim_reminder: true,
            },
            proof: Proof::ALL,
        };
        m.decide(1, remind, "remind 1").unwrap();
        m.decide(2, remind, "remind 2").unwrap();
        m.decide(2, JOIN_NOTIFY, "notify 2").unwrap();
        m.decide(1, JOIN, "again 1").unwrap();
        let changes = m.start_batch();
        assert!(changes.joins.is_empty());
        assert_eq!(changes.notify_on, vec![2]);
        assert_eq!(changes.remind_on, vec![1, 2]);
        m.committed();
        // Nothing new to write: acceptances only add up.
        m.decide(1, JOIN_NOTIFY, "notify 1 again").unwrap();
        assert!(m.start_batch().rows_unchanged());
    }
}
