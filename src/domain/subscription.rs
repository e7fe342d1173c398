//! What a participant accepted in `wx.requestSubscribeMessage` (contract,
//! "Subscriptions"): WeChat's one-time subscription allows one message per
//! acceptance of a template, so each accepted kind allows exactly one
//! message of that kind for the event. Acceptances only add up: a repeated
//! join never withdraws one (the user cannot take it back in WeChat either).

use crate::error::AppError;

/// Read from the participant's (`notify`, `remind`) columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, diesel::Queryable)]
pub struct Subscriptions {
    /// The draw's result, or the event's cancellation.
    pub result: bool,
    /// A winner's reminder to claim before `claim_by`.
    pub claim_reminder: bool,
}

impl Subscriptions {
    pub const NONE: Self = Self {
        result: false,
        claim_reminder: false,
    };

    /// The join body's `notify` and `subscribe` (`notify: true` is the same
    /// as listing `"result"`). An unknown kind is refused, not ignored: the
    /// client meant something the server would not honour.
    pub fn from_join(notify: Option<bool>, subscribe: Option<&[String]>) -> Result<Self, AppError> {
        let mut accepted = Self {
            result: notify.unwrap_or(false),
            claim_reminder: false,
        };
        for kind in subscribe.unwrap_or_default() {
            match kind.as_str() {
                "result" => accepted.result = true,
                "claim_reminder" => accepted.claim_reminder = true,
                _ => {
                    return Err(AppError::InvalidArgument(
                        "subscribe may list only result and claim_reminder".into(),
                    ))
                }
            }
        }
        Ok(accepted)
    }

    /// Both acceptances together.
    pub fn with(self, more: Self) -> Self {
        Self {
            result: self.result || more.result,
            claim_reminder: self.claim_reminder || more.claim_reminder,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn notify_is_the_result_kind() {
        let s = Subscriptions::from_join(Some(true), None).unwrap();
        assert_eq!(
            s,
            Subscriptions {
                result: true,
                claim_reminder: false
            }
        );
        let s = Subscriptions::from_join(None, Some(&kinds(&["result"]))).unwrap();
        assert_eq!(
            s,
            Subscriptions {
                result: true,
                claim_reminder: false
            }
        );
        let s = Subscriptions::from_join(Some(false), Some(&kinds(&["claim_reminder"]))).unwrap();
        assert_eq!(
            s,
            Subscriptions {
                result: false,
                claim_reminder: true
            }
        );
        assert_eq!(
            Subscriptions::from_join(None, None).unwrap(),
            Subscriptions::NONE
        );
    }

    #[test]
    fn an_unknown_kind_is_refused() {
        let err = Subscriptions::from_join(None, Some(&kinds(&["result", "spam"]))).unwrap_err();
        assert!(err.to_string().contains("subscribe"), "{err}");
    }

    #[test]
    fn acceptances_only_add_up() {
        let result = Subscriptions {
            result: true,
            claim_reminder: false,
        };
        let remind = Subscriptions {
            result: false,
            claim_reminder: true,
        };
        assert_eq!(
            result.with(remind),
            Subscriptions {
                result: true,
                claim_reminder: true
            }
        );
        assert_eq!(result.with(Subscriptions::NONE), result);
    }
}
