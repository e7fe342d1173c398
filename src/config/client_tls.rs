//! TLS to the backing services: the CA a server's certificate must chain
//! to, and a client certificate for servers that ask for one, read from
//! PEM files named by `LOTTERY_DATABASE_*`, `LOTTERY_REDIS_*` and
//! `LOTTERY_ETCD_*` (`_CA`, `_CLIENT_CERT`, `_CLIENT_KEY`). Read at start,
//! so a missing or unreadable file stops the server with its setting's
//! name instead of failing the first connection.

use super::parse::Vars;
use crate::tls::{ClientTls, Identity};

/// `{service}_CA`, `{service}_CLIENT_CERT` and `{service}_CLIENT_KEY`
/// (the last two together); None when none is set.
pub(super) fn read(vars: &Vars, service: &str) -> Result<Option<ClientTls>, String> {
    let file = |suffix: &str| -> Result<Option<Vec<u8>>, String> {
        let key = format!("{service}_{suffix}");
        let Some(path) = vars.get(&key) else {
            return Ok(None);
        };
        let bytes = std::fs::read(&path).map_err(|e| format!("{key}: cannot read {path}: {e}"))?;
        if !String::from_utf8_lossy(&bytes).contains("-----BEGIN ") {
            return Err(format!("{key}: {path} is not a PEM file"));
        }
        Ok(Some(bytes))
    };
    let ca = file("CA")?;
    let identity = match (file("CLIENT_CERT")?, file("CLIENT_KEY")?) {
        (Some(cert), Some(key)) => Some(Identity { cert, key }),
        (None, None) => None,
        _ => {
            return Err(format!(
                "{service}_CLIENT_CERT and {service}_CLIENT_KEY go together: set both or neither"
            ))
        }
    };
    Ok((ca.is_some() || identity.is_some()).then_some(ClientTls { ca, identity }))
}
