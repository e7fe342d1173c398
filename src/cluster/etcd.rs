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

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, KeyValue, PutOptions, Txn,
    TxnOp, TxnOpResponse, WatchOptions,
};
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use super::directory::{Change, Directory, Keys};
use super::{Route, Signals};
use crate::config::ClusterSettings;
use crate::error::{AppError, AppResult};
use crate::store::ownership::Token;

/// How long a claimed event may go without an actor before its key is
/// given back (see `Membership::release_idle`).
const IDLE_RELEASE: Duration = Duration::from_secs(10);
/// Each call to etcd answers within this, or counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

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
    hop_secret: String,
    signals: watch::Sender<Signals>,
}

fn unreachable(err: impl std::fmt::Display) -> AppError {
    tracing::warn!(error = %err, "etcd call failed");
    AppError::Unavailable("the cluster's coordination service is unreachable; try again".into())
}

/// This instance cannot vouch for its lease right now: it claims nothing.
fn out_of_touch() -> AppError {
    AppError::Unavailable("this server is out of touch with the cluster; try again".into())
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

fn change_of(keys: &Keys, kv: &KeyValue, deleted: bool) -> Change {
    let key = keys.parse(kv.key_str().unwrap_or_default());
    if deleted {
        Change::Delete { key }
    } else {
        Change::Put {
            key,
            value: kv.value_str().unwrap_or_default().to_string(),
        }
    }
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
        let mut client = Client::connect(&settings.endpoints, Some(options))
            .await
            .map_err(|e| format!("cannot reach etcd at {:?}: {e}", settings.endpoints))?;
        let keys = Keys::new(&settings.prefix);
        let hop_secret = hop_secret(&mut client, &keys).await?;
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
            directory: RwLock::default(),
            hop_secret,
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

    /// Reads every key under the prefix into the directory; returns the
    /// revision the watch continues from.
    async fn load_directory(&self) -> AppResult<i64> {
        let listing = bounded(
            self.client
                .clone()
                .get(self.keys.prefix(), Some(GetOptions::new().with_prefix())),
        )
        .await?;
        let revision = listing.header().map_or(0, |h| h.revision());
        let changes: Vec<Change> = listing
            .kvs()
            .iter()
            .map(|kv| change_of(&self.keys, kv, false))
            .collect();
        self.directory.write().reset(changes);
        metrics::gauge!("lottery_cluster_members").set(self.directory.read().members() as f64);
        Ok(revision)
    }

    /// Follows every change under the prefix. A broken or compacted watch
    /// starts over from a fresh listing.
    async fn watch_directory(self: Arc<Self>, mut revision: i64) {
        while !self.leaving.load(Ordering::Acquire) {
            let options = WatchOptions::new()
                .with_prefix()
                .with_start_revision(revision + 1);
            match self
                .client
                .clone()
                .watch(self.keys.prefix(), Some(options))
                .await
            {
                Ok(mut stream) => {
                    while let Ok(Some(response)) = stream.message().await {
                        if response.canceled() {
                            break;
                        }
                        if let Some(header) = response.header() {
                            revision = revision.max(header.revision());
                        }
                        let mut departed = false;
                        {
                            let mut directory = self.directory.write();
                            for event in response.events() {
                                let Some(kv) = event.kv() else { continue };
                                let deleted = event.event_type() == EventType::Delete;
                                departed |= directory.apply(change_of(&self.keys, kv, deleted));
                            }
                            metrics::gauge!("lottery_cluster_members")
                                .set(directory.members() as f64);
                        }
                        if departed {
                            self.signals.send_modify(|s| s.departures += 1);
                        }
                    }
                }
                Err(err) => tracing::warn!(error = %err, "etcd watch failed; retrying"),
            }
            if self.leaving.load(Ordering::Acquire) {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            match self.load_directory().await {
                Ok(fresh) => revision = fresh,
                Err(_) => continue,
            }
            // Whoever left while the watch was down: check for due draws.
            self.signals.send_modify(|s| s.departures += 1);
        }
    }

    /// Renews the lease every fifth of its TTL. Unanswered for four fifths
    /// of it, the instance counts its events as lost (before etcd can
    /// expire the lease, as the count starts at the last renewal sent) and
    /// stops claiming until a renewal is answered again; a lease etcd has
    /// expired is replaced by a new one and the instance registers again.
    async fn keep_alive(self: Arc<Self>) {
        let every = self.ttl / 5;
        let give_up_after = self.ttl - every;
        let mut last_renewed = Instant::now();
        let mut stream = None;
        let mut complained = Instant::now() - Duration::from_secs(60);
        loop {
            tokio::time::sleep(every).await;
            if self.leaving.load(Ordering::Acquire) {
                return;
            }
            let lease = self.lease.load(Ordering::Acquire);
            let sent = Instant::now();
            let answer = tokio::time::timeout(every.max(Duration::from_millis(500)), async {
                if stream.is_none() {
                    stream = Some(self.client.clone().lease_keep_alive(lease).await?);
                }
                let (keeper, responses) = stream.as_mut().expect("just opened");
                keeper.keep_alive().await?;
                responses.message().await
            })
            .await;
            // etcd answers a lease it has expired with TTL 0, which the
            // client reports as an error "lease not found".
            let expired = match &answer {
                Ok(Ok(Some(renewed))) => renewed.ttl() <= 0,
                Ok(Err(etcd_client::Error::LeaseKeepAliveError(why))) => why.contains("not found"),
                _ => false,
            };
            if expired {
                stream = None;
                self.lose("the lease expired");
                if self.rejoin().await {
                    last_renewed = Instant::now();
                }
                continue;
            }
            match answer {
                Ok(Ok(Some(_))) => {
                    last_renewed = sent;
                    if !self.healthy.swap(true, Ordering::AcqRel) {
                        tracing::info!("cluster lease renewed again; claiming events");
                    }
                }
                failed => {
                    stream = None;
                    if complained.elapsed() >= Duration::from_secs(5) {
                        complained = Instant::now();
                        match failed {
                            Ok(Err(err)) => tracing::warn!(error = %err, "lease renewal failed"),
                            _ => tracing::warn!("lease renewal unanswered"),
                        }
                    }
                }
            }
            if last_renewed.elapsed() >= give_up_after && self.healthy.load(Ordering::Acquire) {
                self.lose("lease renewals unanswered");
            }
        }
    }

    /// Every event this instance owned is given up at once: its actors
    /// stop (`Signals::lost`) and nothing is claimed until the lease is
    /// renewed.
    fn lose(&self, why: &str) {
        self.healthy.store(false, Ordering::Release);
        let owned = {
            let mut owned = self.owned.lock();
            let n = owned.len();
            owned.clear();
            n
        };
        metrics::counter!("lottery_cluster_lease_losses_total").increment(1);
        metrics::gauge!("lottery_cluster_owned_events").set(0.0);
        tracing::error!(
            why,
            events = owned,
            "cluster lease lost: stopping every event actor"
        );
        self.signals.send_modify(|s| s.lost += 1);
    }

    /// A new lease and registration after etcd expired the old one.
    async fn rejoin(&self) -> bool {
        let granted = bounded(
            self.client
                .clone()
                .lease_grant(self.ttl.as_secs() as i64, None),
        )
        .await;
        let Ok(granted) = granted else {
            return false;
        };
        self.lease.store(granted.id(), Ordering::Release);
        match self.register(false).await {
            Ok(()) => {
                self.healthy.store(true, Ordering::Release);
                tracing::info!(
                    lease = granted.id(),
                    "rejoined the cluster with a new lease"
                );
                true
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not register again");
                false
            }
        }
    }

    /// Where the event is served: here if this instance owns it (or has
    /// just claimed it), else at its owner's URL.
    pub async fn route(&self, event_id: i64) -> AppResult<Route> {
        match self.owned.lock().get_mut(&event_id) {
            Some(Held::Owned { token, touched }) => {
                *touched = Instant::now();
                return Ok(Route::Here(Some(*token)));
            }
            Some(Held::Releasing) => return Err(AppError::changing_servers()),
            None => {}
        }
        if !self.healthy.load(Ordering::Acquire) {
            return Err(out_of_touch());
        }
        if let Some(url) = self.directory.read().owner_url(event_id, &self.me) {
            return Ok(Route::There(url.to_string()));
        }
        self.claim(event_id).await
    }

    /// Creates the event's key under this instance's lease unless it
    /// exists; reads the owner otherwise.
    async fn claim(&self, event_id: i64) -> AppResult<Route> {
        let key = self.keys.event(event_id);
        let lease = self.lease.load(Ordering::Acquire);
        let txn = create_or_get(&key, self.me.clone(), Some(lease));
        let response = bounded(self.client.clone().txn(txn)).await?;
        let token = if response.succeeded() {
            response.header().map(|h| h.revision())
        } else {
            match first_kv(&response) {
                Some(kv) if kv.lease() == lease => Some(kv.create_revision()),
                Some(kv) => {
                    metrics::counter!("lottery_cluster_claims_total", "result" => "owned_elsewhere")
                        .increment(1);
                    let owner = kv.value_str().unwrap_or_default();
                    return match self.directory.read().member_url(owner) {
                        Some(url) => Ok(Route::There(url.to_string())),
                        // Its owner's lease is running out: retry after.
                        None => Err(AppError::Unavailable(
                            "the event's server is leaving; try again".into(),
                        )),
                    };
                }
                // Deleted between the compare and the get: claim again.
                None => None,
            }
        };
        let Some(token) = token else {
            return Err(AppError::changing_servers());
        };
        // A lease lost or replaced meanwhile: the key may already be gone.
        if !self.healthy.load(Ordering::Acquire) || self.lease.load(Ordering::Acquire) != lease {
            return Err(out_of_touch());
        }
        let mut owned = self.owned.lock();
        owned.insert(
            event_id,
            Held::Owned {
                token,
                touched: Instant::now(),
            },
        );
        metrics::gauge!("lottery_cluster_owned_events").set(owned.len() as f64);
        metrics::counter!("lottery_cluster_claims_total", "result" => "claimed").increment(1);
        Ok(Route::Here(Some(token)))
    }

    /// Drops a claim the database found stale (a newer owner exists):
    /// the next request asks the directory again.
    pub fn forget(&self, event_id: i64, token: Token) {
        let mut owned = self.owned.lock();
        if matches!(owned.get(&event_id), Some(Held::Owned { token: t, .. }) if *t == token) {
            owned.remove(&event_id);
        }
        metrics::gauge!("lottery_cluster_owned_events").set(owned.len() as f64);
    }

    pub fn holds(&self, event_id: i64, token: Token) -> bool {
        matches!(self.owned.lock().get(&event_id), Some(Held::Owned { token: t, .. }) if *t == token)
    }

    /// Deletes the keys of events owned here without an actor for
    /// `IDLE_RELEASE` (only if still this claim's key: compare the create
    /// revision). A claim arriving meanwhile is asked to retry.
    pub fn release_idle(self: &Arc<Self>, live: &dyn Fn(i64) -> bool) {
        let idle: Vec<(i64, Token)> = {
            let mut owned = self.owned.lock();
            let idle: Vec<(i64, Token)> = owned
                .iter()
                .filter_map(|(&id, held)| match held {
                    Held::Owned { token, touched }
                        if touched.elapsed() >= IDLE_RELEASE && !live(id) =>
                    {
                        Some((id, *token))
                    }
                    _ => None,
                })
                .collect();
            for (id, _) in &idle {
                owned.insert(*id, Held::Releasing);
            }
            idle
        };
        if idle.is_empty() {
            return;
        }
        let me = self.clone();
        actix_web::rt::spawn(async move {
            for (id, token) in idle {
                let key = me.keys.event(id);
                let txn = Txn::new()
                    .when([Compare::create_revision(
                        key.clone(),
                        CompareOp::Equal,
                        token,
                    )])
                    .and_then([TxnOp::delete(key, None)]);
                if let Err(err) = bounded(me.client.clone().txn(txn)).await {
                    // The key stays until the lease ends: harmless.
                    tracing::debug!(event_id = id, error = %err, "could not release an event");
                }
                let mut owned = me.owned.lock();
                if matches!(owned.get(&id), Some(Held::Releasing)) {
                    owned.remove(&id);
                }
                metrics::gauge!("lottery_cluster_owned_events").set(owned.len() as f64);
            }
        });
    }

    /// Constant-time comparison of a hop header with the secret.
    pub fn is_hop(&self, value: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        value.ct_eq(self.hop_secret.as_bytes()).into()
    }

    pub fn hop_secret(&self) -> &str {
        &self.hop_secret
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

/// The secret every instance proves its forwarded requests with: created
/// once (random, only if absent), then read by every instance.
async fn hop_secret(client: &mut Client, keys: &Keys) -> Result<String, String> {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let fresh = hex::encode(bytes);
    let key = keys.hop_secret();
    let txn = create_or_get(&key, fresh.clone(), None);
    let response = client
        .txn(txn)
        .await
        .map_err(|e| format!("cannot reach etcd: {e}"))?;
    if response.succeeded() {
        return Ok(fresh);
    }
    first_kv(&response)
        .and_then(|kv| kv.value_str().ok().map(str::to_string))
        .ok_or_else(|| "etcd: the hop secret vanished while being read".into())
}
