//! Short-lived shared state: sessions, in Redis when configured (shared by
//! every instance) or in the process.

pub mod redis_pool;
pub mod sessions;
