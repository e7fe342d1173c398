//! The serialized answers of one event's page, by what sets one viewer's
//! answer apart from another's (`Seen`). Live and finished pages share it:
//! a view then costs a lookup and a copy of a pointer, not a clone of the
//! event, its JSON and its envelope. A live page's answers hold for one
//! version of the page (its count); a finished page never changes.

use std::collections::HashMap;

use actix_web::web::Bytes;
use parking_lot::RwLock;

/// What sets one viewer's answer apart from another's: `me`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Seen {
    Anonymous,
    /// Logged in, not a participant.
    Outsider,
    Participant,
    /// A winner of the prize with this id (finished events only).
    Winner(i64),
}

/// At most one answer per kind of viewer seen (for a finished event: the
/// prizes plus three), all of one version.
#[derive(Default)]
pub struct Answers<V> {
    held: RwLock<(Option<V>, HashMap<Seen, Bytes>)>,
}

impl<V: Copy + PartialEq> Answers<V> {
    /// The answer for `seen` at `version`, built by `build` when none of
    /// that version is held. Answers of an older version are dropped.
    pub fn get_or_build(&self, version: V, seen: Seen, build: impl FnOnce() -> Bytes) -> Bytes {
        {
            let held = self.held.read();
            if held.0 == Some(version) {
                if let Some(body) = held.1.get(&seen) {
                    return body.clone();
                }
            }
        }
        let body = build();
        let mut held = self.held.write();
        if held.0 != Some(version) {
            *held = (Some(version), HashMap::new());
        }
        held.1.insert(seen, body.clone());
        body
    }

    /// Drops every answer (what they were built from changed).
    pub fn clear(&mut self) {
        *self.held.get_mut() = (None, HashMap::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_built_once_per_viewer_kind_and_version() {
        let answers = Answers::<u32>::default();
        let mut builds = 0;
        let mut get = |version, seen| {
            answers.get_or_build(version, seen, || {
                builds += 1;
                Bytes::from(format!("{version} {seen:?}"))
            })
        };
        assert_eq!(get(1, Seen::Anonymous), "1 Anonymous");
        assert_eq!(get(1, Seen::Anonymous), "1 Anonymous");
        assert_eq!(get(1, Seen::Winner(7)), "1 Winner(7)");
        assert_eq!(get(2, Seen::Anonymous), "2 Anonymous");
        assert_eq!(
            get(2, Seen::Winner(7)),
            "2 Winner(7)",
            "older versions are dropped"
        );
        assert_eq!(builds, 4);
    }
}
