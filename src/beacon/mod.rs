//! The public randomness beacon (issue 25, in progress): drand's chain
//! information, authenticated by recomputing its hash, and its rounds,
//! verified with the chain's key. Not wired to draws yet; `LOTTERY_BEACON_*`
//! settings are still refused as unknown.

pub mod chain;
pub mod round;
