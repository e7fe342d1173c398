//! Personal data (a winner's delivery details, phone numbers): sealed with
//! an authenticated cipher before it is stored, opened only to be shown to
//! its owner or the event's creator. Nothing else in the crate handles such
//! data in clear: store and cache hold the sealed text, logs and errors
//! never see either.
//!
//! - `keyring.rs`: AES-256-GCM under keys named by an id; new data is
//!   sealed with the first key, old data opens with whichever key sealed
//!   it (so keys rotate without rewriting rows).
//! - `join_password.rs`: join passwords, kept only as keyed digests.
//! - `request_digest.rs`: the body of a creation under an Idempotency-Key,
//!   kept only as a keyed digest to compare a retry with.
//! - `key_file.rs`: the embedded default's key, made once beside the
//!   SQLite file (mode 0600), so `cargo run` needs no setting.

pub mod details;
pub mod join_password;
pub mod key_file;
pub mod keyring;
pub mod request_digest;

pub use keyring::{Keyring, OpenError, Sealed};
