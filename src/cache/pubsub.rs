//! Following one Redis pub/sub channel for as long as its follower lives.
//! The subscription is pinged every `PING_EVERY`: a connection that died
//! silently (a half-open TCP connection delivers nothing and reports
//! nothing) is noticed within `PING_EVERY + PING_DEADLINE` and counts as
//! lost. Messages published while no subscription is up are never seen,
//! so a follower is told when one is lost and when one is up again, and
//! must treat everything it learnt from the channel as unknown in between.

use std::sync::Weak;
use std::time::Duration;

use bb8_redis::redis;
use futures::StreamExt;

const PING_EVERY: Duration = Duration::from_millis(1000);
const PING_DEADLINE: Duration = Duration::from_millis(1000);
/// Pause before a lost subscription is tried again.
const RESUBSCRIBE_DELAY: Duration = Duration::from_secs(1);

/// What follows a channel.
pub trait Follower: Send + Sync + 'static {
    fn channel(&self) -> String;
    /// A subscription is up: messages from now on arrive.
    fn subscribed(&self);
    /// One message; `None` for a payload that is not text.
    fn received(&self, payload: Option<String>);
    /// The subscription is lost: messages may be missed until the next
    /// `subscribed`.
    fn lost(&self);
    /// Logged when the subscription goes down.
    fn when_down(&self) -> &'static str;
}

/// Runs until the follower is dropped. `clients`: one Redis, or a Redis
/// Cluster's seed nodes, tried in turn when a subscription is lost (in a
/// Redis Cluster a PUBLISH reaches the subscribers of every node).
pub async fn follow<F: Follower>(clients: Vec<redis::Client>, follower: Weak<F>) {
    for client in clients.iter().cycle() {
        let Some(channel) = follower.upgrade().map(|f| f.channel()) else {
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
            match follower.upgrade() {
                Some(f) => f.subscribed(),
                None => return,
            }
            let mut pings = tokio::time::interval(PING_EVERY);
            pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    message = messages.next() => {
                        let Some(message) = message else { break };
                        let Some(f) = follower.upgrade() else { return };
                        f.received(message.get_payload::<String>().ok());
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
        let Some(f) = follower.upgrade() else {
            return;
        };
        f.lost();
        tracing::warn!(channel, "{}", f.when_down());
        drop(f);
        tokio::time::sleep(RESUBSCRIBE_DELAY).await;
    }
}
