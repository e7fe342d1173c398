//! How a setting's text becomes a value: the reader over the merged
//! variables, and the settings that name one of a few choices.

use std::collections::HashMap;
use std::ops::RangeInclusive;

pub use crate::telemetry::LogFormat;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Dev,
    Prod,
}

/// The merged `LOTTERY_*` variables, read one setting at a time. An empty
/// value counts as unset.
pub(super) struct Vars<'a>(&'a HashMap<String, String>);

impl<'a> Vars<'a> {
    pub(super) fn new(vars: &'a HashMap<String, String>) -> Self {
        Self(vars)
    }

    pub(super) fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).filter(|v| !v.is_empty()).cloned()
    }

    /// A whole-number setting: its key, default and allowed range.
    pub(super) fn number(
        &self,
        key: &str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<u64, String> {
        let value = self.get(key).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("{key} must be a whole number, got {v:?}"))
        })?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(format!(
                "{key} must be between {} and {}, got {value}",
                range.start(),
                range.end()
            ))
        }
    }

    /// A comma-separated list (blanks dropped).
    pub(super) fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub(super) fn profile(&self) -> Result<Profile, String> {
        match self.get("LOTTERY_PROFILE").as_deref() {
            None | Some("dev") => Ok(Profile::Dev),
            Some("prod") => Ok(Profile::Prod),
            Some(other) => Err(format!(
                "LOTTERY_PROFILE must be dev or prod, got {other:?}"
            )),
        }
    }

    pub(super) fn log_format(&self) -> Result<LogFormat, String> {
        match self.get("LOTTERY_LOG_FORMAT").as_deref() {
            None | Some("text") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => Err(format!(
                "LOTTERY_LOG_FORMAT must be text or json, got {other:?}"
            )),
        }
    }
}
