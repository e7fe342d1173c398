//! How many uploads the server holds at once. Each holds up to the byte
//! limit (10 MiB by default) in memory while it is read and waits for a
//! decoder, so without a bound a few hundred slow or parallel uploads
//! would take gigabytes. An upload is admitted before a byte of its body
//! is read: at most `IN_FLIGHT_PER_DECODER` per decoding process in all
//! (503 beyond, to retry), and `PER_USER` per user (429 beyond).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{AppError, AppResult};

/// Uploads in the server per decoding process: one decoding, the others
/// read or queued.
const IN_FLIGHT_PER_DECODER: usize = 4;

/// Uploads one user may have in the server at once: a cover and a few
/// prize pictures picked together.
pub const PER_USER: u32 = 3;

pub struct Admission {
    total: Arc<Semaphore>,
    users: Arc<Mutex<HashMap<i64, u32>>>,
}

/// An admitted upload; dropping it lets the next one in.
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
    user_id: i64,
    users: Arc<Mutex<HashMap<i64, u32>>>,
}

impl Admission {
    pub fn new(decoders: usize) -> Self {
        Self {
            total: Arc::new(Semaphore::new(
                decoders.max(1).saturating_mul(IN_FLIGHT_PER_DECODER).max(8),
            )),
            users: Arc::default(),
        }
    }

    pub fn admit(&self, user_id: i64) -> AppResult<Admitted> {
        {
            let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
            let now = users.entry(user_id).or_default();
            if *now >= PER_USER {
                return Err(AppError::RateLimited {
                    message: format!("at most {PER_USER} uploads at once; wait for one to finish"),
                    retry_after_secs: 1,
                });
            }
            *now += 1;
        }
        let admitted = Admitted {
            _permit: match self.total.clone().try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    release(&self.users, user_id);
                    return Err(AppError::Unavailable(
                        "uploads are busy; try again shortly".into(),
                    ));
                }
            },
            user_id,
            users: self.users.clone(),
        };
        Ok(admitted)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        release(&self.users, self.user_id);
    }
}

fn release(users: &Mutex<HashMap<i64, u32>>, user_id: i64) {
    let mut users = users.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(now) = users.get_mut(&user_id) {
        *now -= 1;
        if *now == 0 {
            users.remove(&user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_has_three_at_once_and_all_have_the_pool() {
        let admission = Admission::new(1);
        let mine: Vec<_> = (0..PER_USER).map(|_| admission.admit(1).unwrap()).collect();
        assert_eq!(admission.admit(1).err().unwrap().code(), 42900);
        drop(mine);
        let mine = admission.admit(1).unwrap();
        // Eight in all with one decoder: seven others fill it.
        let others: Vec<_> = (2..9).map(|user| admission.admit(user).unwrap()).collect();
        assert_eq!(admission.admit(9).err().unwrap().code(), 50300);
        // A refusal by the pool does not count against the user.
        drop(mine);
        drop(others);
        let again: Vec<_> = (0..PER_USER).map(|_| admission.admit(9).unwrap()).collect();
        assert_eq!(again.len(), 3);
    }
}
