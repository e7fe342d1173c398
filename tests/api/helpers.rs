//! Starts the real app on a free port against a fresh database: a temporary
//! SQLite file, or a new MySQL database when LOTTERY_TEST_MYSQL_URL names a
//! server (e.g. mysql://root@127.0.0.1:3306).

use std::collections::HashMap;
use std::time::Duration;

use lottery::config::Config;
use lottery::startup::Application;
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Mysql,
}

/// Generates `sqlite` and `mysql` variants of an async test taking a Backend.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[actix_web::test]
            #[cfg_attr(not(lottery_test_mysql), ignore = "needs LOTTERY_TEST_MYSQL_URL")]
            async fn mysql() {
                super::$name($crate::helpers::Backend::Mysql).await
            }
        }
    )*};
}

pub fn mysql_server() -> Option<String> {
    std::env::var("LOTTERY_TEST_MYSQL_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

pub fn redis_server() -> Option<String> {
    std::env::var("LOTTERY_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The Redis URL of a test marked `cfg_attr(not(lottery_test_redis), ignore)`:
/// such a test only runs when the URL was given at build time.
pub fn required_redis() -> String {
    redis_server().expect("LOTTERY_TEST_REDIS_URL (set when the tests were built)")
}

/// Settings for Redis sessions under a key prefix no other test uses.
pub fn redis_settings(url: &str) -> Vec<(String, String)> {
    let tag: u64 = rand::rng().random();
    vec![
        ("LOTTERY_REDIS_URL".into(), url.to_string()),
        (
            "LOTTERY_REDIS_PREFIX".into(),
            format!("lottery_test_{tag:016x}:"),
        ),
    ]
}

/// Owned settings (as `redis_settings` gives them) as `spawn_on` takes them.
pub fn setting_refs(vars: &[(String, String)]) -> Vec<(&str, &str)> {
    vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Two instances on one fresh SQLite database and one Redis key prefix,
/// both with `extra` settings.
pub async fn two_sharing_redis(extra: &[(&str, &str)]) -> (TestApp, TestApp) {
    let database = fresh_database(Backend::Sqlite);
    let redis = redis_settings(&required_redis());
    let mut settings = setting_refs(&redis);
    settings.extend_from_slice(extra);
    let one = TestApp::spawn_on(database.clone(), &settings).await;
    let two = TestApp::spawn_on(database, &settings).await;
    (one, two)
}

/// A database URL no other test uses.
pub fn fresh_database(backend: Backend) -> String {
    let tag: u64 = rand::rng().random();
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("lottery-tests");
            std::fs::create_dir_all(&dir).unwrap();
            format!("sqlite://{}/t{tag:016x}.db", dir.display())
        }
        Backend::Mysql => format!(
            "{}/lottery_test_{tag:016x}",
            mysql_server()
                .expect("LOTTERY_TEST_MYSQL_URL")
                .trim_end_matches('/')
        ),
    }
}

/// A port nothing listens on just now, for a process the test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct TestApp {
    pub base: String,
    /// `LOTTERY_ADMIN_BIND`'s address, when the test set one.
    pub admin_base: Option<String>,
    pub client: reqwest::Client,
    app_handle: actix_web::dev::ServerHandle,
    events: lottery::actors::Events,
    finished: std::sync::Arc<lottery::cache::finished::FinishedEvents>,
    notifier: Option<actix::Addr<lottery::actors::notifier::Notifier>>,
    placement: lottery::cluster::Placement,
    pub database_url: String,
    /// The app's claim clock: `clock.advance` moves claim windows along.
    pub clock: lottery::clock::Clock,
    claim_keeper: actix::Addr<lottery::actors::claim_keeper::ClaimKeeper>,
    /// What the app's handlers share (to run a background round now).
    pub state: actix_web::web::Data<lottery::api::state::AppState>,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn code(&self) -> i64 {
        self.body["code"].as_i64().unwrap_or(-1)
    }
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

impl TestApp {
    /// The app on a fresh database. The MySQL variant runs as production
    /// does: with Redis sessions when LOTTERY_TEST_REDIS_URL is given.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_on(fresh_database(backend), &[]).await
    }

    /// The app on a fresh database with settings of the test's own.
    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> Self {
        Self::spawn_on(fresh_database(backend), extra).await
    }

    pub async fn spawn_on(database_url: String, extra: &[(&str, &str)]) -> Self {
        let mut vars: HashMap<String, String> = HashMap::from([
            ("LOTTERY_BIND".into(), "127.0.0.1:0".into()),
            ("LOTTERY_DATABASE_URL".into(), database_url.clone()),
            // The app runs inside this test binary; its image decoders
            // are the server's own binary (`lottery decode-images`).
            (
                "LOTTERY_MEDIA_DECODER".into(),
                env!("CARGO_BIN_EXE_lottery").into(),
            ),
        ]);
        let database_url = database_url.clone();
        if database_url.starts_with("mysql://") {
            if let Some(redis) = redis_server() {
                vars.extend(redis_settings(&redis));
            }
        }
        if !database_url.starts_with("sqlite://") {
            // SQLite's default keeps images beside its file; a MySQL
            // test's go to a directory of its own, never the checkout.
            let tag: u64 = rand::rng().random();
            let dir = std::env::temp_dir().join(format!("lottery-tests/media-{tag:016x}"));
            vars.insert(
                "LOTTERY_MEDIA_STORE".into(),
                format!("fs://{}", dir.display()),
            );
        }
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_map(&vars).expect("test config");
        let app = Application::build(config).await.expect("app starts");
        // With LOTTERY_TLS_CERT the API's port speaks HTTPS.
        let tls = vars.contains_key("LOTTERY_TLS_CERT");
        let scheme = if tls { "https" } else { "http" };
        let base = format!("{scheme}://127.0.0.1:{}", app.port());
        let admin_base = app
            .admin_port()
            .map(|port| format!("http://127.0.0.1:{port}"));
        let app_handle = app.handle();
        let events = app.events();
        let finished = app.finished();
        let notifier = app.notifier();
        let placement = app.placement();
        let clock = app.clock();
        let claim_keeper = app.claim_keeper();
        let state = app.state();
        actix_web::rt::spawn(app.run_until_stopped());
        Self {
            base,
            admin_base,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(256)
                // The test's own client to a server it started with a
                // certificate it made: what is under test over TLS is the
                // instances' forwarding client, which checks.
                .danger_accept_invalid_certs(tls)
                .build()
                .unwrap(),
            app_handle,
            events,
            finished,
            notifier,
            placement,
            database_url,
            clock,
            claim_keeper,
            state,
        }
    }

    /// Event actors the app has started so far (each one load).
    pub fn actor_starts(&self) -> u64 {
        self.events.actor_starts()
    }

    /// Finished events the app has read from the database.
    pub fn finished_reads(&self) -> u64 {
        self.finished.database_reads()
    }

    /// Event actors alive in the app.
    pub fn live_actors(&self) -> usize {
        self.events.live_actors()
    }

    /// Erases the delivery details past their keeping time now; how many.
    pub async fn sweep_claims(&self) -> usize {
        self.claim_keeper
            .send(lottery::actors::claim_keeper::SweepNow)
            .await
            .unwrap()
            .unwrap()
    }

    /// Stops the notifier as a graceful shutdown does (`Shutdown`).
    pub async fn shut_notifier_down(&self) {
        if let Some(notifier) = &self.notifier {
            notifier
                .send(lottery::actors::notifier::Shutdown)
                .await
                .unwrap();
        }
    }

    /// Stops the server and every actor at once, as a crash would: nothing
    /// is flushed on the way out, and a cluster member's lease is left to
    /// run out.
    pub async fn stop(self) {
        self.placement.halt();
        if let Some(notifier) = &self.notifier {
            notifier.do_send(lottery::actors::notifier::Stop);
        }
        self.events.shutdown();
        self.app_handle.stop(false).await;
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let url = if path.starts_with('/')
            && !path.starts_with("/api")
            && !path.starts_with("/healthz")
            && !path.starts_with("/readyz")
            && !path.starts_with("/metrics")
        {
            format!("{}/api/v1{path}", self.base)
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = self.client.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            body,
            headers,
        }
    }

    /// `GET /metrics`, as text.
    pub async fn metrics_text(&self) -> String {
        let reply = self.get("/metrics", None).await;
        assert_eq!(reply.status, 200);
        reply.body.as_str().expect("metrics are text").to_string()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn login(&self, name: &str) -> (String, i64) {
        let r = self
            .post("/auth/login", None, json!({"code": format!("dev:{name}")}))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        (
            r.data()["token"].as_str().unwrap().to_string(),
            r.data()["user"]["id"].as_i64().unwrap(),
        )
    }

    pub async fn create_event(&self, token: &str, body: Value) -> Value {
        let r = self.post("/events", Some(token), body).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.data().clone()
    }

    /// One `event_body` event per draw delay, in order; their ids.
    pub async fn create_events(&self, token: &str, draw_in_secs: &[i64]) -> Vec<i64> {
        let mut ids = vec![];
        for &secs in draw_in_secs {
            let event = self.create_event(token, event_body(secs)).await;
            ids.push(event["id"].as_i64().unwrap());
        }
        ids
    }

    /// `n` fresh users (`{prefix}0`, `{prefix}1`, …) who each joined the
    /// event (answered 200): their (token, user id), in join order.
    pub async fn joined_users(&self, event_id: i64, prefix: &str, n: usize) -> Vec<(String, i64)> {
        let mut users = vec![];
        for i in 0..n {
            let (token, user_id) = self.login(&format!("{prefix}{i}")).await;
            let joined = self.join(&token, event_id).await;
            assert_eq!(joined.status, 200, "{:?}", joined.body);
            users.push((token, user_id));
        }
        users
    }

    pub async fn join(&self, token: &str, event_id: i64) -> Reply {
        self.call(
            Method::PUT,
            &format!("/events/{event_id}/participants/me"),
            Some(token),
            None,
        )
        .await
    }

    pub async fn leave(&self, token: &str, event_id: i64) -> Reply {
        self.call(
            Method::DELETE,
            &format!("/events/{event_id}/participants/me"),
            Some(token),
            None,
        )
        .await
    }

    /// Every participant item of an event, walking the pages `limit` at a
    /// time (each page checked for 200).
    pub async fn participant_items(&self, event_id: i64, limit: u32) -> Vec<Value> {
        let mut items = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let q = cursor
                .as_ref()
                .map(|c| format!("&cursor={c}"))
                .unwrap_or_default();
            let page = self
                .get(
                    &format!("/events/{event_id}/participants?limit={limit}{q}"),
                    None,
                )
                .await;
            assert_eq!(page.status, 200, "{:?}", page.body);
            items.extend(page.data()["items"].as_array().unwrap().iter().cloned());
            match page.data()["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return items,
            }
        }
    }

    /// Polls until the event has the status, or fails after `secs`.
    pub async fn wait_status(&self, event_id: i64, status: &str, secs: u64) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let r = self.get(&format!("/events/{event_id}"), None).await;
            if r.data()["status"] == status {
                return r.data().clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "event {event_id} never became {status}: {:?}",
                r.body
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An RFC 3339 time `secs` from now.
pub fn in_secs(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339()
}

pub fn event_body(draw_in_secs: i64) -> Value {
    json!({
        "title": "Hot event",
        "draw_at": in_secs(draw_in_secs),
        "prizes": [{"name": "Gold", "quantity": 1}, {"name": "Silver", "quantity": 2}]
    })
}

/// Runs one SQL statement straight on the database, behind the server's
/// back (to stage what a crash or an operator would leave).
pub async fn execute_sql(db: &lottery::store::Db, sql: String) {
    let result: lottery::error::AppResult<()> = async {
        lottery::db_run!(db, |conn| {
            diesel::sql_query(sql.clone()).execute(conn).await?;
            Ok(())
        })
    }
    .await;
    result.unwrap_or_else(|err| panic!("{sql}: {err}"));
}

/// Everything the database holds, as text: the SQLite file's bytes with
/// its write-ahead log, or every row of every MySQL table.
pub async fn stored_text(app: &TestApp) -> String {
    if let Some(path) = app.database_url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap();
        let mut text = String::new();
        for file in [path.to_string(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        return text;
    }
    let url = app.database_url.clone();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "mysqldump --skip-extended-insert -h 127.0.0.1 -u root {}",
            url.rsplit('/').next().unwrap()
        ))
        .output()
        .expect("mysqldump runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A certificate authority made for one test, and certificates it signs,
/// written as PEM files into a directory of their own.
pub struct TestPki {
    pub dir: std::path::PathBuf,
    /// The CA's certificate file.
    pub ca: String,
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
}

impl TestPki {
    pub fn new(name: &str) -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let tag: u64 = rand::rng().random();
        let dir = std::env::temp_dir().join(format!("lottery-tests/pki-{name}-{tag:016x}"));
        std::fs::create_dir_all(&dir).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("lottery test CA {name}"));
        let ca = dir.join("ca.pem").display().to_string();
        std::fs::write(&ca, params.self_signed(&key).unwrap().pem()).unwrap();
        Self {
            dir,
            ca,
            params,
            key,
        }
    }

    /// A certificate for `names` (an IP address is an IP SAN) and its key,
    /// signed by this CA: the files `<file>-cert.pem`, `<file>-key.pem`.
    pub fn issue(&self, file: &str, names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params
            .signed_by(&key, &rcgen::Issuer::from_params(&self.params, &self.key))
            .unwrap();
        let [cert_path, key_path] = ["cert", "key"].map(|kind| {
            self.dir
                .join(format!("{file}-{kind}.pem"))
                .display()
                .to_string()
        });
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }
}
