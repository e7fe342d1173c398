//! Where the settings come from: the process environment, under which an
//! optional `LOTTERY_CONFIG` file lays its `KEY=value` lines.

use std::collections::HashMap;

use super::keys::injected_by_platform;

/// The process's `LOTTERY_*` variables (less those a platform injects)
/// over those of the `LOTTERY_CONFIG` file, when one is named.
pub(super) fn from_process() -> Result<HashMap<String, String>, String> {
    let env: HashMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("LOTTERY_") && !injected_by_platform(k))
        .collect();
    match env.get("LOTTERY_CONFIG") {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read LOTTERY_CONFIG {path}: {e}"))?;
            layer(&text, env.clone()).map_err(|e| format!("{path}: {e}"))
        }
        None => Ok(env),
    }
}

/// The settings of a config file under the environment's. The file holds
/// `KEY=value` lines; lines after a `[dev]` or `[prod]` header apply only
/// in that profile (the profile comes from the environment, else from the
/// file's lines before any header, else dev). Precedence, lowest first:
/// the file's common lines, its profile's section, the environment.
pub fn layer(file: &str, env: HashMap<String, String>) -> Result<HashMap<String, String>, String> {
    let mut common = HashMap::new();
    let mut sections: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut section: Option<String> = None;
    for line in file.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if name != "dev" && name != "prod" {
                return Err(format!(
                    "unknown section [{name}]: sections are [dev] and [prod]"
                ));
            }
            section = Some(name.to_string());
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("expected KEY=value or [dev]/[prod], got {line:?}"))?;
        let (k, v) = (k.trim().to_string(), v.trim().to_string());
        if k == "LOTTERY_PROFILE" && section.is_some() {
            return Err("LOTTERY_PROFILE belongs before any section".into());
        }
        match &section {
            Some(name) => sections.entry(name.clone()).or_default().insert(k, v),
            None => common.insert(k, v),
        };
    }
    let profile = env
        .get("LOTTERY_PROFILE")
        .or(common.get("LOTTERY_PROFILE"))
        .cloned()
        .unwrap_or_else(|| "dev".into());
    let mut vars = common;
    vars.extend(sections.remove(&profile).unwrap_or_default());
    vars.extend(env);
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_may_choose_the_profile_and_refuses_what_it_cannot_read() {
        let chosen = layer(
            "LOTTERY_PROFILE=prod\n[prod]\nLOTTERY_DB_POOL_SIZE=7",
            HashMap::new(),
        )
        .unwrap();
        assert_eq!(chosen["LOTTERY_DB_POOL_SIZE"], "7");
        assert!(layer("[staging]\nA=1", HashMap::new()).is_err());
        assert!(layer("[prod]\nLOTTERY_PROFILE=prod", HashMap::new()).is_err());
        assert!(layer("just words", HashMap::new()).is_err());
    }
}
