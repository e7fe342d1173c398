//! Who may join an event (docs/API.md, "Join rules"): what its creator
//! set, and whether one join's proof meets it. Pure: whether a password
//! matched or a group proof holds is found by the caller (the actor, with
//! the keys and WeChat's answers) and handed in as a `Proof`.

use crate::error::AppError;

/// A join password is 1 to 32 characters, compared exactly.
pub const MAX_PASSWORD_CHARS: usize = 32;
/// Wrong passwords one user may send one event; the next try is refused
/// with 429 (docs/API-NOTES.md, "Join rules"). A 4-digit password then
/// falls to one user with a chance of 10 in 10,000.
pub const PASSWORD_TRIES: u32 = 10;
/// The `Retry-After` of a join refused for its tries: they do not come
/// back for this event, so "not soon".
pub const NO_TRIES_RETRY_AFTER_SECS: u64 = 86_400;
/// The most participants an event may require (the contract's bound,
/// equal to `validation::MAX_PARTICIPANTS_LIMIT`: validation imports this
/// module, so naming that constant here would make an import circle).
pub const MAX_MIN_PARTICIPANTS: i64 = 1_000_000;

/// What the creator set; shown (without the password) in the event view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JoinRules {
    /// A password is required (its digest is kept apart from these rules).
    pub password: bool,
    pub group_only: bool,
    pub risk_check: bool,
    /// Fewer participants at the draw cancel the event instead.
    pub min_participants: Option<i32>,
}

/// What one join showed, as the actor found it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Proof {
    /// The joiner has wrong tries left at the event's password (true when
    /// it has none).
    pub tries_left: bool,
    /// The password given matches the event's (true when it has none).
    pub password: bool,
    /// A group proof of one of the event's groups was shown (true when the
    /// event is not group-only).
    pub group: bool,
    /// WeChat's fraud check passed (Some(true) when the event does not
    /// ask it; None: the joiner's rank is not known yet).
    pub risk: Option<bool>,
}

impl Proof {
    /// A join that meets every rule (what a member's repeat join needs).
    pub const ALL: Proof = Proof {
        tries_left: true,
        password: true,
        group: true,
        risk: Some(true),
    };
}

/// A new participant must meet the event's rules: the password first, so
/// a stranger without it learns nothing more; WeChat's rating last, so it
/// is asked only for joiners who met the rest.
pub fn check_join(proof: Proof) -> Result<(), AppError> {
    if !proof.tries_left {
        return Err(AppError::RateLimited {
            message: format!(
                "too many wrong passwords for this event: {PASSWORD_TRIES} tries are allowed"
            ),
            retry_after_secs: NO_TRIES_RETRY_AFTER_SECS,
        });
    }
    if !proof.password {
        return Err(AppError::WrongJoinPassword(
            "the event's password (口令) is missing or wrong".into(),
        ));
    }
    if !proof.group {
        return Err(AppError::NotInGroup(
            "the event is for the WeChat groups it was shared in: open it from one of them".into(),
        ));
    }
    match proof.risk {
        Some(true) => Ok(()),
        Some(false) => Err(AppError::RiskRefused(
            "WeChat rates this account as a likely bot or fraud; the event does not accept it"
                .into(),
        )),
        None => Err(AppError::RiskRankNeeded),
    }
}

/// Whether a draw among `participants` cancels the event instead.
pub fn too_few(min_participants: Option<i32>, participants: usize) -> bool {
    min_participants.is_some_and(|min| participants < min.max(0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_needs_the_password_then_the_group() {
        assert!(check_join(Proof::ALL).is_ok());
        let no_password = check_join(Proof {
            password: false,
            group: false,
            risk: Some(false),
            ..Proof::ALL
        });
        assert_eq!(no_password.unwrap_err().code(), 40310);
        let no_group = check_join(Proof {
            group: false,
            risk: Some(false),
            ..Proof::ALL
        });
        let out_of_tries = check_join(Proof {
            tries_left: false,
            ..Proof::ALL
        });
        assert_eq!(out_of_tries.unwrap_err().code(), 42900);
        assert_eq!(no_group.unwrap_err().code(), 40311);
        let risky = check_join(Proof {
            risk: Some(false),
            ..Proof::ALL
        });
        assert_eq!(risky.unwrap_err().code(), 40312);
        let unknown = check_join(Proof {
            risk: None,
            ..Proof::ALL
        });
        assert!(matches!(unknown, Err(AppError::RiskRankNeeded)));
    }

    #[test]
    fn too_few_is_strictly_fewer() {
        assert!(!too_few(None, 0));
        assert!(too_few(Some(3), 2));
        assert!(!too_few(Some(3), 3));
        assert!(!too_few(Some(1), 5));
    }
}
