//! Pure rules: the event state machine, input validation and the draw.
//! Nothing here does I/O, so every rule is tested directly.

pub mod beacon_draw;
pub mod claim;
pub mod count;
pub mod draw;
pub mod event;
pub mod fairness;
pub mod idempotency;
pub mod join_rules;
pub mod live;
pub mod media;
pub mod membership;
pub mod notice;
pub mod redraw;
pub mod subscription;
pub mod text;
pub mod validation;
