//! Follows the logouts every instance publishes and forgets those sessions
//! here (`cache::pubsub` keeps the subscription). When the subscription is
//! lost every cached session is forgotten, and until a new subscription
//! is up, entries are trusted only for the short cache time.

use super::redis::RedisSessions;
use super::tokens::TokenHash;
use crate::cache::pubsub::Follower;

impl Follower for RedisSessions {
    fn channel(&self) -> String {
        self.logout_channel()
    }

    fn subscribed(&self) {
        self.local.subscription_up();
    }

    fn received(&self, payload: Option<String>) {
        let hash = payload
            .and_then(|p| hex::decode(p).ok())
            .and_then(|b| TokenHash::try_from(b.as_slice()).ok());
        self.local.logout_received(hash);
    }

    fn lost(&self) {
        self.local.subscription_lost();
    }

    fn when_down(&self) -> &'static str {
        "the logout subscription is down; sessions are re-checked every few seconds"
    }
}
