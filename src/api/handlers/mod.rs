//! One file per resource; each handler is a few lines.

pub mod auth;
pub mod claims;
pub mod events;
pub mod groups;
pub mod load_test;
pub mod me;
pub mod media;
pub mod ops;
pub mod participation;
pub mod push;
pub mod redraw;
pub mod results;
pub mod share;
