//! Short-lived shared state: sessions, in Redis when configured (shared by
//! every instance) or in the process; drawn and cancelled events and their
//! published results, in the process (they never change).

pub mod access_token;
pub mod answers;
pub mod changes;
pub mod finished;
pub mod groups;
pub mod nonces;
pub mod pubsub;
pub mod redis_pool;
pub mod results;
pub mod risk_ranks;
pub mod send_rate;
pub mod sessions;
