//! Follows the logouts every instance publishes and forgets those sessions
//! here. The subscription is pinged every `PING_EVERY`: a connection that
//! died silently (a half-open TCP connection delivers nothing and reports
//! nothing) is noticed within `PING_EVERY + PING_DEADLINE`, and then
//! counts as lost: every cached session is forgotten, and until a new
//! subscription is up, entries are trusted only for the short cache time.

use std::sync::Weak;
use std::time::Duration;

use bb8_redis::redis;
use futures::StreamExt;

use super::redis::RedisSessions;
use super::tokens::TokenHash;

const PING_EVERY: Duration = Duration::from_millis(1000);
const PING_DEADLINE: Duration = Duration::from_millis(1000);
/// Pause before the logout subscription is tried again.
const RESUBSCRIBE_DELAY: Duration = Duration::from_secs(1);

/// Runs until the store is dropped. `clients`: one Redis, or a Redis
/// Cluster's seed nodes, tried in turn when a subscription is lost.
pub async fn follow(clients: Vec<redis::Client>, store: Weak<RedisSessions>) {
    for client in clients.iter().cycle() {
        let Some(channel) = store.upgrade().map(|s| s.logout_channel()) else {
            return;
        };
        // A Redis that accepts the connection and then says nothing must
        // not hold the loop either.
        let subscribed = tokio::time::timeout(PING_DEADLINE * 2, async {
            let (mut sink, messages) = client.get_async_pubsub().await.ok()?.split();
            sink.subscribe(&channel).await.ok()?;
            Some((sink, messages))
        })
        .await;
        if let Ok(Some((mut sink, mut messages))) = subscribed {
            {
                match store.upgrade() {
                    Some(s) => s.local.subscription_up(),
                    None => return,
                }
                let mut pings = tokio::time::interval(PING_EVERY);
                pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        message = messages.next() => {
                            let Some(message) = message else { break };
                            let Some(s) = store.upgrade() else { return };
                            let hash = message
                                .get_payload::<String>()
                                .ok()
                                .and_then(|p| hex::decode(p).ok())
                                .and_then(|b| TokenHash::try_from(b.as_slice()).ok());
                            s.local.logout_received(hash);
                        }
                        _ = pings.tick() => {
                            let pong = tokio::time::timeout(PING_DEADLINE, sink.ping::<redis::Value>()).await;
                            if !matches!(pong, Ok(Ok(_))) {
                                break;
                            }
                        }
                    }
                }
            }
        }
        match store.upgrade() {
            Some(s) => s.local.subscription_lost(),
            None => return,
        }
        tracing::warn!(
            "the logout subscription is down; sessions are re-checked every few seconds"
        );
        tokio::time::sleep(RESUBSCRIBE_DELAY).await;
    }
}
