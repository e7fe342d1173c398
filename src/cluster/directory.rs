//! What an instance knows of the cluster from etcd's watch: which
//! instances are alive (and where they listen) and which owns each event.
//! A cached hint, as in Orleans's directory cache: it routes a request
//! without a round trip to etcd, and a stale entry costs one forward to an
//! instance that then claims or refuses; ownership itself is decided by the
//! claim in etcd and enforced by the database's fence.

use std::collections::HashMap;

use crate::config::Peers;

/// The layout of this deployment's keys in etcd, under one prefix.
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

/// What a key in the prefix stands for.
#[derive(Debug, PartialEq, Eq)]
pub enum Key {
    /// `members/<instance id>`, whose value is its advertised URL.
    Member(String),
    /// `events/<event id>`, whose value is its owner's instance id.
    Event(i64),
    Other,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn member(&self, instance_id: &str) -> String {
        format!("{}members/{instance_id}", self.prefix)
    }

    pub fn event(&self, event_id: i64) -> String {
        format!("{}events/{event_id}", self.prefix)
    }

    /// Where versions before issue 24 kept the hop secret, readable by
    /// anyone who could read etcd; deleted when an instance joins (the
    /// secret is `LOTTERY_CLUSTER_SECRET` now).
    pub fn old_hop_secret(&self) -> String {
        format!("{}hop-secret", self.prefix)
    }

    pub fn parse(&self, key: &str) -> Key {
        let Some(rest) = key.strip_prefix(&self.prefix) else {
            return Key::Other;
        };
        if let Some(id) = rest.strip_prefix("members/") {
            return Key::Member(id.to_string());
        }
        match rest.strip_prefix("events/").map(str::parse) {
            Some(Ok(id)) => Key::Event(id),
            _ => Key::Other,
        }
    }
}

/// One change the watch reports.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Put { key: Key, value: String },
    Delete { key: Key },
}

#[derive(Default, Debug)]
pub struct Directory {
    /// Instance id → advertised URL.
    members: HashMap<String, String>,
    /// Event id → owner's instance id.
    owners: HashMap<i64, String>,
    /// The URLs a member may have (`LOTTERY_CLUSTER_PEERS`).
    peers: Peers,
}

impl Directory {
    pub fn new(peers: Peers) -> Self {
        Self {
            peers,
            ..Self::default()
        }
    }

    /// Applies a change; true when an instance left (its events need a new
    /// owner, and its due draws someone to carry them out).
    pub fn apply(&mut self, change: Change) -> bool {
        match change {
            Change::Put {
                key: Key::Member(id),
                value,
            } => {
                if self.peers.allows(&value) {
                    self.members.insert(id, value);
                } else {
                    // Never forwarded to: its events' writes get 503 here
                    // until a member we may reach owns them.
                    metrics::counter!("lottery_cluster_members_refused_total").increment(1);
                    tracing::error!(
                        instance = %id,
                        url = %value,
                        "a cluster member registered a URL outside LOTTERY_CLUSTER_PEERS; ignored"
                    );
                    self.members.remove(&id);
                }
                false
            }
            Change::Put {
                key: Key::Event(event),
                value,
            } => {
                self.owners.insert(event, value);
                false
            }
            Change::Delete {
                key: Key::Member(id),
            } => {
                self.owners.retain(|_, owner| *owner != id);
                self.members.remove(&id).is_some()
            }
            Change::Delete {
                key: Key::Event(event),
            } => {
                self.owners.remove(&event);
                false
            }
            Change::Put {
                key: Key::Other, ..
            }
            | Change::Delete { key: Key::Other } => false,
        }
    }

    /// Replaces everything with a fresh listing (after a reconnect).
    pub fn reset(&mut self, changes: impl IntoIterator<Item = Change>) {
        *self = Self::new(std::mem::take(&mut self.peers));
        for change in changes {
            self.apply(change);
        }
    }

    /// The URL of the live instance other than `me` that owns the event.
    pub fn owner_url(&self, event_id: i64, me: &str) -> Option<&str> {
        let owner = self.owners.get(&event_id)?;
        if owner == me {
            return None;
        }
        self.members.get(owner).map(String::as_str)
    }

    pub fn member_url(&self, instance_id: &str) -> Option<&str> {
        self.members.get(instance_id).map(String::as_str)
    }

    pub fn members(&self) -> usize {
        self.members.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(keys: &Keys, key: &str, value: &str) -> Change {
        Change::Put {
            key: keys.parse(&format!("/lottery/{key}")),
            value: value.into(),
        }
    }

    /// The test members' hosts are allowed peers.
    fn directory() -> Directory {
        Directory::new(Peers::parse("a,b,a2").unwrap())
    }

    #[test]
    fn a_member_outside_the_allowed_peers_is_never_routed_to() {
        let keys = Keys::new("/lottery/");
        let mut directory = directory();
        directory.apply(put(&keys, "members/a", "http://a"));
        directory.apply(put(&keys, "events/1", "a"));
        directory.apply(put(&keys, "members/rogue", "http://collector.example:80"));
        directory.apply(put(&keys, "events/2", "rogue"));
        assert_eq!(directory.owner_url(2, "b"), None);
        assert_eq!(directory.member_url("rogue"), None);
        // An allowed member rewritten to a rogue URL is dropped, not kept.
        directory.apply(put(&keys, "members/a", "http://203.0.113.7:8080"));
        assert_eq!(directory.owner_url(1, "b"), None);
        assert_eq!(directory.members(), 0);
    }

    #[test]
    fn keys_round_trip_under_the_prefix() {
        let keys = Keys::new("/lottery/");
        assert_eq!(keys.parse(&keys.event(42)), Key::Event(42));
        assert_eq!(keys.parse(&keys.member("a-1")), Key::Member("a-1".into()));
        assert_eq!(keys.parse("/other/events/42"), Key::Other);
        assert_eq!(keys.parse("/lottery/events/x"), Key::Other);
        assert_eq!(keys.parse(&keys.old_hop_secret()), Key::Other);
    }

    #[test]
    fn owners_route_to_live_members_other_than_me() {
        let keys = Keys::new("/lottery/");
        let mut directory = directory();
        directory.apply(put(&keys, "members/a", "http://a"));
        directory.apply(put(&keys, "members/b", "http://b"));
        directory.apply(put(&keys, "events/1", "a"));
        directory.apply(put(&keys, "events/2", "b"));
        directory.apply(put(&keys, "events/3", "c"));
        assert_eq!(directory.owner_url(1, "b"), Some("http://a"));
        assert_eq!(directory.owner_url(1, "a"), None, "mine: not a forward");
        assert_eq!(directory.owner_url(3, "a"), None, "owner not a member");
        assert_eq!(directory.owner_url(9, "a"), None);
    }

    #[test]
    fn a_member_leaving_takes_its_events_with_it() {
        let keys = Keys::new("/lottery/");
        let mut directory = directory();
        directory.apply(put(&keys, "members/a", "http://a"));
        directory.apply(put(&keys, "events/1", "a"));
        let left = directory.apply(Change::Delete {
            key: Key::Member("a".into()),
        });
        assert!(left);
        assert_eq!(directory.owner_url(1, "b"), None);
        directory.apply(put(&keys, "members/a", "http://a2"));
        assert_eq!(directory.owner_url(1, "b"), None, "a new life owns nothing");
        let deleted_twice = directory.apply(Change::Delete {
            key: Key::Member("zz".into()),
        });
        assert!(!deleted_twice);
    }
}
