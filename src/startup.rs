//! Builds the application: pools, migrations, actors and the HTTP server on
//! a listener, so tests start the real app on port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App, HttpServer};

use actix::{Actor, Addr};

use crate::actors::claim_keeper::ClaimKeeper;
use crate::actors::notifier::{NoticeBell, Notifier, Shutdown};
use crate::actors::registry::ActorSettings;
use crate::actors::Events;
use crate::api;
use crate::api::signing_keys::Signing;
use crate::api::state::{AppState, Draining};
use crate::beacon::client::Beacon;
use crate::cache::access_token::SharedToken;
use crate::cache::changes::{PublishedCaches, ResultChanges};
use crate::cache::finished::FinishedEvents;
use crate::cache::groups::KnownGroups;
use crate::cache::nonces::Nonces;
use crate::cache::redis_pool::RedisTarget;
use crate::cache::results::DrawResults;
use crate::cache::risk_ranks::RiskRanks;
use crate::cache::send_rate::SendRate;
use crate::cache::sessions::SessionStore;
use crate::clock::Clock;
use crate::cluster::Placement;
use crate::config::Config;
use crate::limits::connections::ConnectionCap;
use crate::limits::RateLimits;
use crate::media::urls::MediaUrls;
use crate::media::Media;
use crate::store::notices::Queues;
use crate::store::Db;
use crate::telemetry;
use crate::wechat::token::AccessTokens;
use crate::wechat::WechatClient;

/// Draws written at once for a pool of `connections`: three quarters, and
/// always at least one connection left for joins and reads (none at all
/// only for a pool of one, where draws and joins take turns).
fn draw_permits(connections: u32) -> usize {
    let connections = connections as usize;
    (connections * 3 / 4).clamp(1, connections.saturating_sub(1).max(1))
}

/// In-process limits keep a cell per recently active key; a minute's
/// quiet keys are dropped so a flood of distinct keys does not stay.
fn forget_quiet_keys_now_and_then(limits: RateLimits) {
    actix_web::rt::spawn(async move {
        let mut every = actix_web::rt::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            limits.forget_quiet_keys();
        }
    });
}

pub struct Application {
    port: u16,
    server: Server,
    /// `LOTTERY_ADMIN_BIND`: the figures' server and its port.
    admin: Option<(Server, u16)>,
    events: Events,
    finished: Arc<FinishedEvents>,
    notifier: Option<Addr<Notifier>>,
    draining: Draining,
    stop: StopSignal,
    placement: Placement,
    clock: Clock,
    claim_keeper: Addr<ClaimKeeper>,
    state: web::Data<AppState>,
}

/// The shutdown's budget, 10 s in all (an orchestrator's usual grace
/// before SIGKILL): actors finish their batches and a running draw, then
/// the listener closes and open connections finish, then the notifier
/// finishes its sends in flight.
const ACTOR_DRAIN: Duration = Duration::from_secs(5);
const HTTP_DRAIN: Duration = Duration::from_secs(3);
const NOTIFIER_DRAIN: Duration = Duration::from_millis(1500);

/// Starts a running application's graceful shutdown; `main` connects
/// SIGTERM and SIGINT to it.
#[derive(Clone, Default)]
pub struct StopSignal(Arc<Notify>);

impl StopSignal {
    pub fn stop(&self) {
        // Kept as a permit if the application is not waiting yet.
        self.0.notify_one();
    }
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, String> {
        let metrics = telemetry::metrics_handle();
        crate::memory::give_back_freed_pages();
        let db = Db::connect_with_tls(
            config.database_url.expose(),
            config.db_pool_size,
            config.db_lock_timeout,
            config.database_tls.clone(),
        )
        .await?;
        // Before anything listens: a server that could not open what it
        // sealed must not start.
        let pii = Arc::new(config.pii_keyring()?);
        let redis_target = config
            .redis_url
            .as_ref()
            .map(|url| RedisTarget::new(url.expose(), config.redis_tls.clone()));
        let redis = redis_target
            .as_ref()
            .map(|target| (target, config.redis_prefix.as_str()));
        let sessions = match redis {
            Some((url, prefix)) => {
                SessionStore::redis(url, prefix, config.session_ttl, config.session_cache_ttl)?
            }
            None => SessionStore::in_process(config.session_ttl),
        };
        let wechat = WechatClient::from_config(&config)?;
        let tokens = match &wechat {
            Some(api) => {
                let shared = match redis {
                    Some((url, prefix)) => Some(SharedToken::new(url, prefix)?),
                    None => None,
                };
                Some(Arc::new(AccessTokens::new(api.clone(), shared)))
            }
            None => None,
        };
        let notice_bell = match &config.notices {
            Some(settings) => NoticeBell::on(Queues {
                results: settings.result.is_some(),
                reminders: settings.reminder.is_some(),
            }),
            None => NoticeBell::default(),
        };
        // Before joining a cluster: a certificate or CA that cannot be read,
        // or an address already taken, stops the start with nothing
        // registered in etcd.
        let tls = match &config.tls {
            Some(files) => Some(crate::tls::server_config(&files.cert, &files.key)?),
            None => None,
        };
        let forward_client = match &config.cluster {
            Some(cluster) => Some(api::forward::client(cluster.ca.as_deref())?),
            None => None,
        };
        let admin_listener = match &config.admin_bind {
            Some(bind) => Some(
                TcpListener::bind(bind)
                    .map_err(|e| format!("LOTTERY_ADMIN_BIND: cannot listen on {bind}: {e}"))?,
            ),
            None => None,
        };
        let listener = TcpListener::bind(&config.bind)
            .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        // The beacon's chain, authenticated by its hash, before any draw
        // could need it: a server that cannot read it does not start.
        let beacon = match &config.beacon {
            Some(settings) => {
                let beacon = Beacon::connect(&settings.url, &settings.chain_hash).await?;
                tracing::info!(
                    url = %settings.url,
                    chain_hash = %settings.chain_hash,
                    scheme = beacon.chain().scheme.id(),
                    period = beacon.chain().period,
                    "beacon draws on: events created from now on are drawn with drand's rounds"
                );
                Some(Arc::new(beacon))
            }
            None => None,
        };
        let placement = Placement::join(config.cluster.as_ref(), &config.bind, port).await?;
        let events = Events::start(
            db.clone(),
            ActorSettings {
                mailbox_capacity: config.event_mailbox_capacity,
                idle_timeout: config.actor_idle_timeout,
                arbiters: config.actor_threads,
                // Most of the pool actually built (SQLite's is capped):
                // joins and reads always keep the rest.
                concurrent_draws: draw_permits(db.max_connections()),
                max_live: config.max_live_events,
                notices: notice_bell.clone(),
                pii: pii.clone(),
                beacon,
            },
            placement.clone(),
        );
        let clock = Clock::default();
        let notifier = match (&config.notices, &tokens) {
            (Some(settings), Some(tokens)) => {
                let rate = SendRate::new(settings.rate, redis)?;
                tracing::info!(
                    rate = settings.rate,
                    results = settings.result.is_some(),
                    claim_reminders = settings.reminder.is_some(),
                    "notices on"
                );
                Some(
                    Notifier::new(
                        db.clone(),
                        clock.clone(),
                        tokens.clone(),
                        settings.clone(),
                        rate,
                        notice_bell.clone(),
                    )
                    .start(),
                )
            }
            _ => {
                tracing::info!(
                    "notices off: neither LOTTERY_WECHAT_RESULT_TEMPLATE_ID nor \
                     LOTTERY_WECHAT_CLAIM_TEMPLATE_ID is set"
                );
                None
            }
        };
        let draining = Draining::default();
        let signing = if config.signing_keys.is_empty() {
            None
        } else {
            tracing::info!(keys = config.signing_keys.len(), "request signing on");
            Some(Signing::new(&config.signing_keys, Nonces::new(redis)?))
        };
        let cors_origins = config.cors_origins.clone();
        let signing_on = signing.is_some();
        let by_address = config.limits.ip.is_some() || config.limits.login.is_some();
        let limits = RateLimits::new(&config.limits, redis)?;
        forget_quiet_keys_now_and_then(limits.clone());
        let workers = config.http_workers;
        let finished = Arc::new(FinishedEvents::new(config.finished_cache_bytes));
        let risk_ranks = RiskRanks::new(redis, config.risk.keep)?;
        let results = Arc::new(DrawResults::new(config.result_cache_bytes));
        let result_changes = ResultChanges::new(
            PublishedCaches {
                results: results.clone(),
                finished: finished.clone(),
                live_pages: Some(refresh_live_images(events.clone(), db.clone())),
            },
            redis,
        )?;
        let claim_keeper = ClaimKeeper::new(db.clone(), clock.clone()).start();
        let media_urls = MediaUrls::new(&config.media);
        let media = Arc::new(Media::new(config.media.clone())?);
        let state = web::Data::new(AppState {
            media,
            media_urls,
            readiness: Default::default(),
            clock: clock.clone(),
            notices: notice_bell,
            results,
            result_changes,
            finished: finished.clone(),
            config,
            db,
            sessions,
            wechat,
            tokens: tokens.clone(),
            events: events.clone(),
            metrics,
            limits,
            known_groups: KnownGroups::new(100_000),
            risk_ranks,
            draining: draining.clone(),
            signing,
            placement: placement.clone(),
            forward_client,
            pii,
        });
        actix_web::rt::spawn(api::media_keeper::keep(state.clone()));
        let admin = match admin_listener {
            Some(listener) => Some(admin_server(listener, state.clone())?),
            None => None,
        };
        let with_metrics = admin.is_none();
        let load_test_sessions = state.config.load_test_sessions;
        let connections = (state.config.max_connections_per_address > 0).then(|| {
            ConnectionCap::new(
                state.config.max_connections_per_address,
                state.config.limits.ipv6_prefix,
                state.config.trusted_proxies.clone(),
            )
        });
        let body_deadlines = state.config.body;
        let kept_state = state.clone();
        let clustered = placement.is_clustered();
        let hosts = events.clone();
        let server = HttpServer::new(move || {
            // Runs once on each worker's thread.
            hosts.host_on_this_thread();
            App::new()
                .app_data(state.clone())
                // Read by every JSON body (`api::body::deadlines`).
                .app_data(body_deadlines)
                // Each layer costs every request a boxed future: the
                // optional ones are in the chain only when configured.
                // Innermost: a write is forwarded to its event's owner
                // after the limits and the signature were checked here.
                .wrap(Condition::new(
                    clustered,
                    from_fn(api::forward::forward_writes),
                ))
                .wrap(Condition::new(
                    signing_on,
                    from_fn(api::signing::verify_signature),
                ))
                .wrap(Condition::new(
                    by_address,
                    from_fn(api::limits::limit_by_address),
                ))
                .wrap(from_fn(api::middleware::request_context))
                // Outermost: a browser's preflight is answered before any
                // limit or signature applies.
                .wrap(Condition::new(
                    !cors_origins.is_empty(),
                    api::cors::cors(&cors_origins),
                ))
                .configure(|cfg| api::routes(cfg, with_metrics))
                .configure(|cfg| {
                    if load_test_sessions {
                        api::load_test_routes(cfg)
                    }
                })
        })
        .workers(workers);
        // Before `listen`, which takes it along; none at all when off.
        let server = match connections {
            Some(cap) => server.on_connect(move |io, data| cap.on_connect(io, data)),
            None => server,
        };
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls),
            None => server.listen(listener),
        };
        let server = server
            .map_err(|e| e.to_string())?
            // Signals are ours (`StopSignal`): the shutdown sequence below
            // comes before actix's own stop.
            .disable_signals()
            .shutdown_timeout(HTTP_DRAIN.as_secs())
            .run();
        Ok(Self {
            port,
            server,
            admin,
            events,
            finished,
            notifier,
            draining,
            stop: StopSignal::default(),
            placement,
            clock,
            claim_keeper,
            state: kept_state,
        })
    }

    /// What the handlers share, so a test can run a background job's round
    /// now (`api::media_keeper::round`).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin address's port, when `LOTTERY_ADMIN_BIND` is set.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin.as_ref().map(|(_, port)| *port)
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The finished-events cache, so a test can count its database reads.
    pub fn finished(&self) -> Arc<FinishedEvents> {
        self.finished.clone()
    }

    /// The actors, so a test can stop them with the server.
    pub fn events(&self) -> Events {
        self.events.clone()
    }

    /// The notifier, when notices are on, so a test can stop it as a crash would.
    pub fn notifier(&self) -> Option<Addr<Notifier>> {
        self.notifier.clone()
    }

    /// Where events are served, so a test can stage a crash of a cluster
    /// member (`Placement::halt`).
    pub fn placement(&self) -> Placement {
        self.placement.clone()
    }

    /// The clock claims are judged by, so a test can move it forward.
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    /// What erases old delivery details, so a test can make it sweep now.
    pub fn claim_keeper(&self) -> Addr<ClaimKeeper> {
        self.claim_keeper.clone()
    }

    /// What starts this application's graceful shutdown.
    pub fn stop_signal(&self) -> StopSignal {
        self.stop.clone()
    }

    /// Serves until the server is stopped (a test's handle) or the stop
    /// signal comes. On the signal: API requests get 503 + Retry-After and
    /// connections close after their answer; actors commit what they hold
    /// and finish a running draw; the listener closes and open requests
    /// finish; the notifier finishes its sends in flight. Nothing
    /// acknowledged is lost, and all of it takes under 10 s.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            admin,
            events,
            notifier,
            draining,
            stop,
            placement,
            ..
        } = self;
        let handle = server.handle();
        let admin = admin.map(|(admin, _)| {
            let handle = admin.handle();
            actix_web::rt::spawn(admin);
            handle
        });
        let mut server = std::pin::pin!(server);
        let result = tokio::select! {
            result = server.as_mut() => result,
            () = stop.0.notified() => {
                let started = Instant::now();
                tracing::info!("shutting down: new requests get 503, work in flight finishes");
                draining.start();
                if !events.drain(ACTOR_DRAIN).await {
                    tracing::warn!(
                        "some event actors still had work after {ACTOR_DRAIN:?}; the next start recovers it"
                    );
                }
                // The others take this instance's events over now.
                placement.leave().await;
                // The server future carries out the stop: poll both.
                let (_, result) = tokio::join!(handle.stop(true), server);
                tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "requests and actors done");
                result
            }
        };
        if let Some(admin) = admin {
            admin.stop(true).await;
        }
        events.shutdown();
        if let Some(notifier) = &notifier {
            // Sends in flight finish; claimed notices not tried go back.
            if tokio::time::timeout(NOTIFIER_DRAIN, notifier.send(Shutdown))
                .await
                .is_err()
            {
                tracing::warn!(
                    "the notifier did not stop in time; its claims expire by themselves"
                );
            }
        }
        result
    }
}

/// The admin address (`LOTTERY_ADMIN_BIND`): `/metrics`, which then leaves
/// the API's port, with `/healthz` and `/readyz` for probes of this port.
/// One worker, none of the API's middleware: nothing here is a user's.
fn admin_server(
    listener: TcpListener,
    state: web::Data<AppState>,
) -> Result<(Server, u16), String> {
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let port = local.port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .configure(api::admin_routes)
    })
    .workers(1)
    .listen(listener)
    .map_err(|e| e.to_string())?
    .disable_signals()
    .shutdown_timeout(1)
    .run();
    tracing::info!(bind = %local, "metrics on the admin address only");
    Ok((server, port))
}

/// What `PublishedCaches` calls when an event's published answers change:
/// a live page of the event here reads its images again (an image's
/// verdict came; a re-draw changes nothing there).
fn refresh_live_images(events: Events, db: Db) -> Arc<dyn Fn(i64) + Send + Sync> {
    Arc::new(move |event_id| {
        let Some(page) = events.live_page(event_id) else {
            return;
        };
        let db = db.clone();
        tokio::spawn(async move {
            match crate::store::media::of_event(&db, event_id).await {
                Ok(images) => page.set_images(images),
                Err(err) => {
                    tracing::warn!(event_id, error = %err, "a live page keeps its old images")
                }
            }
        });
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_leave_connections_for_joins_and_reads() {
        assert_eq!(super::draw_permits(8), 6);
        assert_eq!(super::draw_permits(16), 12);
        assert_eq!(super::draw_permits(2), 1);
        assert_eq!(super::draw_permits(1), 1);
    }
}
