//! Cluster mode's settings, checked against the rest of the config.

use std::path::PathBuf;
use std::time::Duration;

use super::client_tls;
use super::parse::Vars;
use super::peers::Peers;
use crate::secret::Secret;
use crate::tls::ClientTls;

/// The hop secret's least length: 32 characters of `openssl rand -hex 32`
/// or the like.
const SECRET_MIN: usize = 32;

/// Cluster mode (docs/CLUSTER.md): several instances over one database,
/// event ownership in etcd.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    /// etcd's client URLs (`http://host:2379`).
    pub endpoints: Vec<String>,
    /// Every key this deployment keeps in etcd starts with it.
    pub prefix: String,
    /// This instance's name among the others; unique while it lives.
    pub instance_id: String,
    /// Where the others reach this instance; None: `http://` + the bound
    /// address, when that is a loopback or named address.
    pub advertise_url: Option<String>,
    /// The membership lease: an instance silent this long loses its events.
    pub lease_ttl: Duration,
    /// What proves a forwarded write came from an instance
    /// (`LOTTERY_CLUSTER_SECRET`, the same on every instance).
    pub hop_secret: Secret,
    /// Where members may be (`LOTTERY_CLUSTER_PEERS`): writes are forwarded
    /// to no other URL.
    pub peers: Peers,
    /// The CA bundle `https://` members' certificates are checked against
    /// (`LOTTERY_CLUSTER_CA`); unset: the public roots.
    pub ca: Option<PathBuf>,
    /// This instance serves HTTPS (`LOTTERY_TLS_CERT`): its default
    /// advertised URL is `https://`.
    pub tls: bool,
    /// The CA and client certificate of `https://` etcd endpoints
    /// (`LOTTERY_ETCD_CA`, `_CLIENT_CERT`, `_CLIENT_KEY`); without them an
    /// `https://` endpoint is checked against the system's roots.
    pub etcd_tls: Option<ClientTls>,
}

/// Cluster mode's settings, when `LOTTERY_ETCD_ENDPOINTS` is set. The
/// cluster shares sessions, so it needs Redis; and a build without the
/// `cluster` feature refuses rather than run as a lone instance that
/// believes it is one of several.
pub(super) fn cluster_settings(
    vars: &Vars,
    bind: &str,
    has_redis: bool,
    tls: bool,
) -> Result<Option<ClusterSettings>, String> {
    let endpoints = vars.list("LOTTERY_ETCD_ENDPOINTS");
    if endpoints.is_empty() {
        for key in [
            "LOTTERY_ETCD_PREFIX",
            "LOTTERY_ETCD_LEASE_TTL_SECS",
            "LOTTERY_INSTANCE_ID",
            "LOTTERY_ADVERTISE_URL",
            "LOTTERY_CLUSTER_SECRET",
            "LOTTERY_ETCD_CA",
            "LOTTERY_ETCD_CLIENT_CERT",
            "LOTTERY_ETCD_CLIENT_KEY",
            "LOTTERY_CLUSTER_PEERS",
            "LOTTERY_CLUSTER_CA",
        ] {
            if vars.get(key).is_some() {
                return Err(format!(
                    "{key} is a cluster setting, but LOTTERY_ETCD_ENDPOINTS is not set"
                ));
            }
        }
        return Ok(None);
    }
    if !cfg!(feature = "cluster") {
        return Err(
            "LOTTERY_ETCD_ENDPOINTS is set, but this build has no cluster mode: \
             build with `cargo build --release --features cluster` (needs protoc)"
                .into(),
        );
    }
    if !has_redis {
        return Err(
            "cluster mode needs LOTTERY_REDIS_URL: every instance must see every session".into(),
        );
    }
    for endpoint in &endpoints {
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(format!(
                "LOTTERY_ETCD_ENDPOINTS: expected URLs like http://127.0.0.1:2379, got {endpoint:?}"
            ));
        }
    }
    // One client speaks TLS to every endpoint or to none.
    let https = endpoints
        .iter()
        .filter(|e| e.starts_with("https://"))
        .count();
    if https != 0 && https != endpoints.len() {
        return Err("LOTTERY_ETCD_ENDPOINTS: all https:// or all http://, not both".into());
    }
    let etcd_tls = client_tls::read(vars, "LOTTERY_ETCD")?;
    if etcd_tls.is_some() && https == 0 {
        return Err(
            "LOTTERY_ETCD_CA and _CLIENT_CERT/_KEY need https:// LOTTERY_ETCD_ENDPOINTS".into(),
        );
    }
    let advertise_url = vars
        .get("LOTTERY_ADVERTISE_URL")
        .map(|url| url.trim_end_matches('/').to_string());
    if let Some(url) = &advertise_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "LOTTERY_ADVERTISE_URL: expected a URL like http://10.0.0.5:8080, got {url:?}"
            ));
        }
    } else if bind.starts_with("0.0.0.0") || bind.starts_with("[::]") {
        return Err(format!(
            "LOTTERY_ADVERTISE_URL is needed: the other instances cannot reach {} by that address",
            bind
        ));
    }
    let hop_secret = vars.get("LOTTERY_CLUSTER_SECRET").ok_or(
        "cluster mode needs LOTTERY_CLUSTER_SECRET, the same random secret on every instance \
         (at least 32 characters, e.g. `openssl rand -hex 32`): it proves a forwarded write \
         came from an instance",
    )?;
    if hop_secret.len() < SECRET_MIN {
        return Err(format!(
            "LOTTERY_CLUSTER_SECRET: at least {SECRET_MIN} characters (it has {})",
            hop_secret.len()
        ));
    }
    let peers = match vars.get("LOTTERY_CLUSTER_PEERS") {
        Some(text) => Peers::parse(&text).map_err(|e| format!("LOTTERY_CLUSTER_PEERS: {e}"))?,
        None => Peers::default(),
    };
    if let Some(url) = &advertise_url {
        if !peers.allows(url) {
            return Err(format!(
                "LOTTERY_ADVERTISE_URL {url:?} is outside LOTTERY_CLUSTER_PEERS: the other \
                 instances would never forward to it"
            ));
        }
    }
    let instance_id = vars
        .get("LOTTERY_INSTANCE_ID")
        .unwrap_or_else(default_instance_id);
    if instance_id.contains('/') || instance_id.len() > 100 {
        return Err(format!(
            "LOTTERY_INSTANCE_ID: at most 100 characters and no '/', got {instance_id:?}"
        ));
    }
    let mut prefix = vars
        .get("LOTTERY_ETCD_PREFIX")
        .unwrap_or_else(|| "/lottery/".into());
    if !prefix.ends_with('/') {
        prefix.push('/');
    }
    Ok(Some(ClusterSettings {
        endpoints,
        prefix,
        instance_id,
        advertise_url,
        lease_ttl: Duration::from_secs(vars.number("LOTTERY_ETCD_LEASE_TTL_SECS", 5, 2..=60)?),
        hop_secret: Secret::new(hop_secret),
        peers,
        ca: vars.get("LOTTERY_CLUSTER_CA").map(PathBuf::from),
        tls,
        etcd_tls,
    }))
}

/// The host's name and this process's id: unique among live instances.
fn default_instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "instance".into());
    format!("{host}-{}", std::process::id())
}
