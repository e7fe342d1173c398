//! Membership and event ownership in etcd, the way Orleans, Akka Cluster
//! Sharding and Dapr placement do it with their coordination services:
//!
//! - Each instance holds one lease (`lease_ttl`, kept alive every fifth of
//!   it) and registers `members/<id>` = its advertised URL under it.
//! - Owning event E is `events/<E>` created under the lease only if absent
//!   (one transaction); the key's create revision is the fencing token the
//!   database checks (`store::ownership`). A dead instance's lease expires
//!   and all its keys vanish at once; the others claim its events on the
//!   next request or timer.
//! - An instance whose keep-alive has not been answered for most of the TTL
//!   stops its actors (`Signals::lost`) before anyone else can claim them;
//!   the fence covers the rest (a paused process that wakes up late).
//! - A watch on the prefix keeps a directory of members and owners, so a
//!   request is routed without asking etcd.

mod claims;
mod directory_watch;
mod lease;
mod secret;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, Identity, KeyValue, PutOptions,
    TlsOptions, Txn, TxnOp, TxnOpResponse,
};
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use super::directory::{Directory, Keys};
use super::Signals;
use crate::config::ClusterSettings;
use crate::error::{AppError, AppResult};
use crate::secret::Secret;
use crate::store::ownership::Token;

/// Each call to etcd answers within this, or counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// An event this instance has claimed, as `owned` keeps it (`claims`).
enum Held {
    Owned {
        token: Token,
        touched: Instant,
    },
    /// Its key is being deleted: a claim waits for the delete to finish.
    Releasing,
}

pub struct Membership {
    client: Client,
    keys: Keys,
    me: String,
    url: String,
    ttl: Duration,
    lease: AtomicI64,
    /// The lease was renewed recently enough that no one else can have
    /// taken this instance's events; claims are refused while false.
    healthy: AtomicBool,
    /// Shutting down: the lease is revoked, nothing is renewed or claimed.
    leaving: AtomicBool,
    owned: Mutex<HashMap<i64, Held>>,
    directory: RwLock<Directory>,
    hop_secret: Secret,
    signals: watch::Sender<Signals>,
}

fn unreachable(err: impl std::fmt::Display) -> AppError {
    tracing::warn!(error = %err, "etcd call failed");
    AppError::Unavailable("the cluster's coordination service is unreachable; try again".into())
}

/// A call to etcd bounded by `CALL_TIMEOUT`.
async fn bounded<T>(
    call: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> AppResult<T> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(unreachable(err)),
        Err(_) => Err(unreachable("timed out")),
    }
}

/// One transaction: `key` = `value` (under `lease`) if the key does not
/// exist, else read it. The create of membership, ownership and the secret.
fn create_or_get(key: &str, value: String, lease: Option<i64>) -> Txn {
    let options = lease.map(|lease| PutOptions::new().with_lease(lease));
    Txn::new()
        .when([Compare::create_revision(key, CompareOp::Equal, 0)])
        .and_then([TxnOp::put(key, value, options)])
        .or_else([TxnOp::get(key, None)])
}

fn first_kv(response: &etcd_client::TxnResponse) -> Option<KeyValue> {
    response.op_responses().into_iter().find_map(|op| match op {
        TxnOpResponse::Get(get) => get.kvs().first().cloned(),
        _ => None,
    })
}

/// TLS for `https://` endpoints: the CA of `LOTTERY_ETCD_CA` (else the
/// system's roots) and the client certificate etcd asks for with
/// `--client-cert-auth`. None for `http://` endpoints.
fn tls_options(settings: &ClusterSettings) -> Option<TlsOptions> {
    if !settings.endpoints.iter().all(|e| e.starts_with("https://")) {
        return None;
    }
    let mut tls = TlsOptions::new();
    match settings.etcd_tls.as_ref().and_then(|t| t.ca.as_ref()) {
        Some(ca) => tls = tls.ca_certificate(Certificate::from_pem(ca)),
        None => tls = tls.with_native_roots(),
    }
    if let Some(identity) = settings.etcd_tls.as_ref().and_then(|t| t.identity.as_ref()) {
        tls = tls.identity(Identity::from_pem(&identity.cert, &identity.key));
    }
    Some(tls)
}

impl Membership {
    /// Joins the cluster: connects, reads (or makes) the hop secret, takes
    /// a lease, registers this instance and starts the keep-alive and the
    /// watch. Fails when etcd cannot be reached or another live instance
    /// has the same id.
    pub async fn join(settings: &ClusterSettings, url: String) -> Result<Arc<Self>, String> {
        let options = ConnectOptions::new()
            .with_connect_timeout(CALL_TIMEOUT)
            .with_timeout(CALL_TIMEOUT);
        let options = match tls_options(settings) {
            Some(tls) => options.with_tls(tls),
            None => options,
        };
        let mut client = Client::connect(&settings.endpoints, Some(options))
            .await
            .map_err(|e| format!("cannot reach etcd at {:?}: {e}", settings.endpoints))?;
        let keys = Keys::new(&settings.prefix);
        Self::delete_old_hop_secret(&mut client, &keys).await;
        let ttl_secs = settings.lease_ttl.as_secs() as i64;
        let lease = client
            .lease_grant(ttl_secs, None)
            .await
            .map_err(|e| format!("etcd refused a lease: {e}"))?
            .id();
        let (signals, _) = watch::channel(Signals::default());
        let membership = Arc::new(Self {
            client,
            keys,
            me: settings.instance_id.clone(),
            url,
            ttl: settings.lease_ttl,
            lease: AtomicI64::new(lease),
            healthy: AtomicBool::new(true),
            leaving: AtomicBool::new(false),
            owned: Mutex::default(),
            directory: RwLock::new(Directory::new(settings.peers.clone())),
            hop_secret: settings.hop_secret.clone(),
            signals,
        });
        membership.register(true).await?;
        let revision = membership
            .load_directory()
            .await
            .map_err(|e| format!("cannot read the cluster's directory: {e}"))?;
        tracing::info!(
            instance = %membership.me,
            url = %membership.url,
            lease,
            members = membership.directory.read().members(),
            "joined the cluster"
        );
        actix_web::rt::spawn(membership.clone().keep_alive());
        actix_web::rt::spawn(membership.clone().watch_directory(revision));
        Ok(membership)
    }

    /// `members/<me>` = URL under the current lease, only if no live
    /// instance holds the name. A restart under the same name waits for
    /// its previous life's lease to run out (`patient`).
    async fn register(&self, patient: bool) -> Result<(), String> {
        let key = self.keys.member(&self.me);
        let deadline = Instant::now() + self.ttl + Duration::from_secs(1);
        loop {
            let lease = self.lease.load(Ordering::Acquire);
            let txn = create_or_get(&key, self.url.clone(), Some(lease));
            let response = bounded(self.client.clone().txn(txn))
                .await
                .map_err(|e| e.to_string())?;
            let ours =
                response.succeeded() || first_kv(&response).is_some_and(|kv| kv.lease() == lease);
            if ours {
                return Ok(());
            }
            if !patient || Instant::now() >= deadline {
                return Err(format!(
                    "another live instance is registered as {:?}: set a unique LOTTERY_INSTANCE_ID",
                    self.me
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub fn signals(&self) -> watch::Receiver<Signals> {
        self.signals.subscribe()
    }

    pub fn halt(&self) {
        self.leaving.store(true, Ordering::Release);
        self.healthy.store(false, Ordering::Release);
    }

    pub async fn leave(&self) {
        self.leaving.store(true, Ordering::Release);
        self.healthy.store(false, Ordering::Release);
        let lease = self.lease.load(Ordering::Acquire);
        match bounded(self.client.clone().lease_revoke(lease)).await {
            Ok(_) => tracing::info!("left the cluster: lease revoked"),
            Err(err) => {
                tracing::warn!(error = %err, "could not revoke the lease; it expires by itself")
            }
        }
    }
}
