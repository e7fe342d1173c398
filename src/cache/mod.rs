//! Sessions and other short-lived state. Today everything lives in the
//! process; the Redis backend (shared by several instances) slots in behind
//! the same `SessionStore` calls.

pub mod sessions;
