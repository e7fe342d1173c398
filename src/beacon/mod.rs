//! The public randomness beacon (drand): its chain's information,
//! authenticated by recomputing its hash (`chain`), its rounds verified
//! with the chain's key (`round`), and the client draws wait on
//! (`client`). docs/FAIRNESS.md, "Beacon draws".

pub mod chain;
pub mod client;
pub mod round;
