//! Short-lived shared state: sessions, in Redis when configured (shared by
//! every instance) or in the process; and the published draw results, in
//! the process.

pub mod redis_pool;
pub mod results;
pub mod sessions;
