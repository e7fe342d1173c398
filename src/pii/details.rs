//! A winner's delivery details as stored: JSON, sealed under the claim it
//! belongs to (event and user), so a sealed value copied onto another
//! claim does not open there.

use super::keyring::{Keyring, OpenError, Sealed};
use crate::domain::claim::Details;

fn context(event_id: i64, user_id: i64) -> Vec<u8> {
    format!("claim:{event_id}:{user_id}").into_bytes()
}

pub fn seal(keyring: &Keyring, event_id: i64, user_id: i64, details: &Details) -> Sealed {
    let clear = serde_json::to_vec(details).expect("details serialize");
    keyring.seal(&context(event_id, user_id), &clear)
}

/// Why stored details did not open: the keyring's reason, or a value that
/// opened but is not details (never expected: only `seal` writes them).
#[derive(Debug, thiserror::Error)]
pub enum DetailsError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("the opened details are not valid")]
    Shape,
}

pub fn open(
    keyring: &Keyring,
    event_id: i64,
    user_id: i64,
    sealed: &str,
) -> Result<Details, DetailsError> {
    let clear = keyring.open(&context(event_id, user_id), &Sealed(sealed.to_string()))?;
    serde_json::from_slice(&clear).map_err(|_| DetailsError::Shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring() -> Keyring {
        Keyring::parse(&Keyring::new_key_setting("k1")).unwrap()
    }

    #[test]
    fn details_open_only_on_their_own_claim() {
        let keys = keyring();
        let details = Details::Contact {
            contact: "wx: 张三".into(),
            note: String::new(),
        };
        let sealed = seal(&keys, 7, 9, &details);
        assert!(!sealed.0.contains("张三"));
        assert_eq!(open(&keys, 7, 9, &sealed.0).unwrap(), details);
        assert!(matches!(
            open(&keys, 7, 10, &sealed.0),
            Err(DetailsError::Open(OpenError::Forged))
        ));
        assert!(matches!(
            open(&keys, 8, 9, &sealed.0),
            Err(DetailsError::Open(OpenError::Forged))
        ));
    }
}
