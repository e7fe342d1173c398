use serde_json::json;

use crate::both_backends;
use crate::helpers::{event_body, Backend, TestApp};

both_backends!(
    health_readiness_metrics_and_request_ids,
    metrics_cover_mailbox_waits_draw_lag_pools_and_the_process,
    envelope_for_unknown_routes_and_big_bodies,
    metrics_move_to_the_admin_address
);

/// Issue 24, finding 8 / item 7: `/metrics` was public on the API's port.
/// With `LOTTERY_ADMIN_BIND` it is served there only (with the probes); the
/// API's port answers 404 for it, whatever the method, and serves no API
/// route on the admin address.
async fn metrics_move_to_the_admin_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("LOTTERY_ADMIN_BIND", "127.0.0.1:0")]).await;
    let admin = app.admin_base.clone().expect("the admin address is up");
    assert_ne!(admin, app.base);
    let (token, _) = app.login("admin_bind").await;
    assert_eq!(app.get("/me", Some(&token)).await.status, 200);

    let public = app.get("/metrics", None).await;
    assert_eq!((public.status.as_u16(), public.code()), (404, 40400));
    let posted = app
        .call(reqwest::Method::POST, "/metrics", None, None)
        .await;
    assert_eq!(posted.status, 404, "not the 405 of a known path");
    // Probes stay on the API's port too.
    assert_eq!(app.get("/healthz", None).await.status, 200);

    let metrics = app
        .client
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("lottery_http_requests_total"), "{text}");
    for probe in ["/healthz", "/readyz"] {
        let r = app
            .client
            .get(format!("{admin}{probe}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{probe}");
    }
    let api = app
        .client
        .get(format!("{admin}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404, "no API on the admin address");
}

async fn health_readiness_metrics_and_request_ids(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.get("/healthz", None).await.status, 200);
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["database"], "ok");

    let (token, _) = app.login("ops").await;
    let id = app.create_event(&token, event_body(60)).await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.join(&token, id).await.status, 200);
    let text = app.metrics_text().await;
    assert!(text.contains("lottery_event_actors"), "{text}");
    assert!(text.contains("lottery_joins_total"), "{text}");
    assert!(
        text.contains("lottery_event_batch_commit_duration_seconds"),
        "{text}"
    );

    let echoed = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("X-Request-Id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-123");
    let made = app.get("/api/v1/me", None).await;
    assert!(!made.headers["x-request-id"].is_empty());
}

async fn envelope_for_unknown_routes_and_big_bodies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.get("/api/v1/nowhere", None).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, 40400));
    assert_eq!(
        r.body["message"].as_str().map(|m| !m.is_empty()),
        Some(true)
    );

    let (token, _) = app.login("big").await;
    let mut body = event_body(60);
    body["description"] = json!("x".repeat(17 * 1024));
    let r = app.post("/events", Some(&token), body).await;
    assert_eq!((r.status.as_u16(), r.code()), (413, 41300));
    let mine = app.get("/me/events?role=created", Some(&token)).await;
    assert_eq!(
        mine.data()["items"].as_array().unwrap().len(),
        0,
        "nothing was stored"
    );
}

#[test]
fn prod_refuses_to_start_without_wechat_credentials_and_says_why() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lottery"))
        .env("LOTTERY_PROFILE", "prod")
        .env("LOTTERY_BIND", "127.0.0.1:0")
        .env_remove("LOTTERY_WECHAT_APPID")
        .env_remove("LOTTERY_WECHAT_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LOTTERY_WECHAT_APPID"), "{stderr}");
}

#[test]
fn prod_refuses_to_start_without_the_keys_personal_data_is_sealed_under() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lottery"))
        .env("LOTTERY_PROFILE", "prod")
        .env("LOTTERY_BIND", "127.0.0.1:0")
        .env("LOTTERY_WECHAT_APPID", "wx1")
        .env("LOTTERY_WECHAT_SECRET", "s")
        .env_remove("LOTTERY_PII_KEYS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LOTTERY_PII_KEYS"), "{stderr}");
}

/// A server that cannot reach its database says so without printing the
/// password from the URL.
#[actix_web::test]
async fn a_start_up_failure_never_shows_the_database_password() {
    let vars = std::collections::HashMap::from([
        ("LOTTERY_BIND".to_string(), "127.0.0.1:0".to_string()),
        (
            "LOTTERY_DATABASE_URL".to_string(),
            // Nothing listens on port 1.
            "mysql://root:s3cret-pw@127.0.0.1:1/lottery".to_string(),
        ),
    ]);
    let config = lottery::config::Config::from_map(&vars).unwrap();
    let Err(message) = lottery::startup::Application::build(config).await else {
        panic!("started without a database");
    };
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("s3cret-pw"), "{message}");
}

/// CORS is off by default; configured, a listed origin's preflight is
/// answered (before signatures and limits) and its requests carry the
/// allow-origin header, while other origins get none.
#[actix_web::test]
async fn cors_answers_listed_origins_only() {
    let preflight = |app: &TestApp, origin: &str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/events/1/participants/me", app.base),
            )
            .header("Origin", origin.to_string())
            .header("Access-Control-Request-Method", "PUT")
            .header(
                "Access-Control-Request-Headers",
                "authorization,x-lottery-signature",
            )
            .send()
    };
    let get = |app: &TestApp, origin: &str| {
        app.client
            .get(format!("{}/api/v1/events/1", app.base))
            .header("Origin", origin.to_string())
            .send()
    };
    let off = TestApp::spawn(Backend::Sqlite).await;
    let res = get(&off, "https://admin.example.com").await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));

    let on = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("LOTTERY_CORS_ORIGINS", "https://admin.example.com"),
            ("LOTTERY_SIGNING_KEYS", "a-signing-key-of-16+"),
        ],
    )
    .await;
    let res = preflight(&on, "https://admin.example.com").await.unwrap();
    assert_eq!(res.status(), 200, "the preflight needs no signature");
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://admin.example.com"
    );
    let methods = res.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(methods.contains("PUT"), "{methods}");
    let res = get(&on, "https://admin.example.com").await.unwrap();
    assert_eq!(
        res.status(),
        401,
        "the request itself still needs its signature"
    );
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://admin.example.com",
        "so the browser lets the page read the error"
    );
    let res = preflight(&on, "https://evil.example.net").await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

/// What ops watch beyond the HTTP figures: the time requests wait in an
/// actor's mailbox, how late a timed draw lands, the pools, the process.
async fn metrics_cover_mailbox_waits_draw_lag_pools_and_the_process(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = app.login("watcher").await;
    let id = app.create_event(&token, event_body(2)).await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.join(&token, id).await.status, 200);
    app.wait_status(id, "drawn", 15).await;
    let text = app.metrics_text().await;
    let has = |needle: &str| text.lines().any(|l| l.starts_with(needle));
    for needle in [
        "lottery_event_mailbox_wait_seconds_bucket{message=\"join\"",
        "lottery_draw_lag_seconds_count",
        "lottery_pool_connections{pool=\"database\",state=\"idle\"}",
        "lottery_pool_max_connections{pool=\"database\"}",
        "lottery_pool_waits_total{pool=\"database\"}",
        "lottery_pool_timeouts_total{pool=\"database\"}",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
        "# HELP lottery_event_mailbox_wait_seconds ",
    ] {
        assert!(has(needle), "no {needle} in {text}");
    }
    if backend == Backend::Mysql && crate::helpers::redis_server().is_some() {
        assert!(
            has("lottery_pool_connections{pool=\"redis_sessions\""),
            "{text}"
        );
    }
}

/// `/readyz` and `/metrics` are public and never limited, so a flood of
/// them must not become a flood of database and Redis pings (issue 24,
/// finding 8): their answer about the dependencies is shared for a second.
/// The real binary, so that its counters are its own.
#[actix_web::test]
async fn a_flood_of_probes_pings_the_dependencies_at_most_once_a_second() {
    let port = crate::helpers::free_port();
    let bind = format!("127.0.0.1:{port}");
    let database = crate::helpers::fresh_database(Backend::Sqlite);
    /// Stops the server however the test ends.
    struct Server(std::process::Child);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Server(
        std::process::Command::new(env!("CARGO_BIN_EXE_lottery"))
            .env_clear()
            .env("RUST_LOG", "warn")
            .env("LOTTERY_BIND", &bind)
            .env("LOTTERY_DATABASE_URL", &database)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the lottery binary starts"),
    );
    let client = reqwest::Client::new();
    let base = format!("http://{bind}");
    let mut up = false;
    for _ in 0..300 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not start");
    let checks = |text: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix("lottery_readiness_checks_total "))
            .map_or(0, |v| v.trim().parse().unwrap())
    };
    let started = std::time::Instant::now();
    let probes = (0..500).map(|i| {
        let path = if i % 5 == 0 { "metrics" } else { "readyz" };
        client.get(format!("{base}/{path}")).send()
    });
    let answers = futures::future::join_all(probes).await;
    assert!(answers
        .iter()
        .all(|r| r.as_ref().is_ok_and(|r| r.status() == 200)));
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs();
    let pinged = checks(&text);
    assert!(pinged >= 1, "{text}");
    assert!(
        pinged <= seconds + 2,
        "{pinged} pings for 501 probes in {seconds} s"
    );
}

/// `lottery healthcheck` (the container image's HEALTHCHECK): exit 0 while
/// the server at `LOTTERY_BIND`'s port answers `/healthz`, 1 (saying why)
/// when nothing listens there.
#[actix_web::test]
async fn the_healthcheck_command_follows_the_servers_health() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let port = app.base.rsplit(':').next().unwrap().to_string();
    let check = |bind: String| async move {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_lottery"))
            .arg("healthcheck")
            .env("LOTTERY_BIND", bind)
            .env_remove("LOTTERY_TLS_CERT")
            .env_remove("LOTTERY_CONFIG")
            .output()
            .await
            .unwrap()
    };
    let up = check(format!("0.0.0.0:{port}")).await;
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    // Where the server reads its address from a LOTTERY_CONFIG file.
    let file = std::env::temp_dir().join(format!("lottery-healthcheck-{port}.env"));
    std::fs::write(&file, format!("LOTTERY_BIND=127.0.0.1:{port}\n")).unwrap();
    let from_file = tokio::process::Command::new(env!("CARGO_BIN_EXE_lottery"))
        .arg("healthcheck")
        .env("LOTTERY_CONFIG", &file)
        .env_remove("LOTTERY_BIND")
        .env_remove("LOTTERY_TLS_CERT")
        .output()
        .await
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(
        from_file.status.success(),
        "{}",
        String::from_utf8_lossy(&from_file.stderr)
    );
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = free.local_addr().unwrap().port();
    drop(free);
    let down = check(format!("127.0.0.1:{closed}")).await;
    assert!(!down.status.success());
    assert!(String::from_utf8_lossy(&down.stderr).contains("/healthz"));
}
