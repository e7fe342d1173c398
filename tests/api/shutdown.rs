//! SIGTERM on the real binary in the middle of a burst of joins: the
//! process exits 0 within 10 s, every join answered 200 is stored, every
//! other answer is a 503 with Retry-After, and no request fails on a
//! connection while the listener is still open.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{free_port, fresh_database, redis_server, redis_settings, Backend, TestApp};
use crate::post_json::post_json;

both_backends!(sigterm_during_a_burst_of_joins_loses_nothing_acknowledged);

const USERS: usize = 400;

fn start_binary(database: &str, port: u16) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lottery"));
    command
        .env_clear()
        .env("LOTTERY_BIND", format!("127.0.0.1:{port}"))
        .env("LOTTERY_DATABASE_URL", database)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if database.starts_with("mysql://") {
        if let Some(redis) = redis_server() {
            command.envs(redis_settings(&redis));
        }
    }
    command.spawn().expect("the lottery binary starts")
}

/// Waits for the process's exit, at most `within`.
fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

enum Outcome {
    Answered {
        status: u16,
        retry_after: bool,
    },
    /// The request failed on the wire: when, and whether it was a refused
    /// connection (the listener already closed).
    Failed {
        at: Instant,
        refused: bool,
    },
}

async fn sigterm_during_a_burst_of_joins_loses_nothing_acknowledged(backend: Backend) {
    let database = fresh_database(backend);
    let port = free_port();
    let mut child = start_binary(&database, port);
    let base = format!("http://127.0.0.1:{port}/api/v1");
    // A fresh connection per request: each one either reaches the server
    // before its listener closes or is refused, never reused half-closed.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let started = Instant::now();
    while client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server never came up"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let login = |name: String| {
        let (client, base) = (&client, &base);
        async move {
            let code = json!({"code": format!("dev:{name}")});
            let body = post_json(client, format!("{base}/auth/login"), None, &code).await;
            (
                body["data"]["token"].as_str().unwrap().to_string(),
                body["data"]["user"]["id"].as_i64().unwrap(),
            )
        }
    };
    let (owner, _) = login("owner".into()).await;
    let body = crate::helpers::event_body(3600);
    let created = post_json(&client, format!("{base}/events"), Some(&owner), &body).await;
    let event = created["data"]["id"].as_i64().unwrap();
    let mut users = vec![];
    for chunk in (0..USERS).collect::<Vec<_>>().chunks(50) {
        users.extend(join_all(chunk.iter().map(|i| login(format!("burst{i}")))).await);
    }

    // Joins start 1 ms apart; SIGTERM goes out after a third of them.
    let burst_start = Instant::now();
    let joins = users.iter().enumerate().map(|(i, (token, user_id))| {
        let (client, base) = (&client, &base);
        async move {
            actix_web::rt::time::sleep_until(
                (burst_start + Duration::from_millis(i as u64)).into(),
            )
            .await;
            let sent = client
                .put(format!("{base}/events/{event}/participants/me"))
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await;
            let outcome = match sent {
                Ok(res) => Outcome::Answered {
                    status: res.status().as_u16(),
                    retry_after: res.headers().contains_key("retry-after"),
                },
                Err(err) => Outcome::Failed {
                    at: Instant::now(),
                    refused: err.is_connect(),
                },
            };
            (*user_id, outcome)
        }
    });
    let pid = child.id();
    let signal = async {
        actix_web::rt::time::sleep(Duration::from_millis(USERS as u64 / 3)).await;
        let term_at = Instant::now();
        let killed = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        // The first refused connection: the listener has closed.
        let closed_at = actix_web::rt::task::spawn_blocking(move || loop {
            if TcpStream::connect(("127.0.0.1", port)).is_err() {
                return Instant::now();
            }
            std::thread::sleep(Duration::from_millis(1));
        })
        .await
        .unwrap();
        (term_at, closed_at)
    };
    let (outcomes, (term_at, closed_at)) = futures::join!(join_all(joins), signal);
    let exit = actix_web::rt::task::spawn_blocking(move || {
        let status = wait_exit(&mut child, Duration::from_secs(10));
        if status.is_none() {
            let _ = child.kill();
        }
        status
    })
    .await
    .unwrap();
    let exit = exit.expect("the process exits within 10 s of SIGTERM");
    assert!(exit.success(), "exit status {exit}");
    eprintln!("exited {:?} after SIGTERM", term_at.elapsed());

    let mut acknowledged = vec![];
    let (mut unavailable, mut refused) = (0, 0);
    for (user_id, outcome) in &outcomes {
        match outcome {
            Outcome::Answered { status: 200, .. } => acknowledged.push(*user_id),
            Outcome::Answered {
                status: 503,
                retry_after,
            } => {
                assert!(retry_after, "a 503 without Retry-After");
                unavailable += 1;
            }
            Outcome::Answered { status, .. } => panic!("unexpected status {status}"),
            Outcome::Failed { at, refused: r } => {
                // A connection the kernel had queued is reset when the
                // listener closes; before that, nothing may fail.
                assert!(
                    *at + Duration::from_millis(20) >= closed_at,
                    "a request failed {:?} before the listener closed",
                    closed_at - *at
                );
                refused += usize::from(*r);
            }
        }
    }
    eprintln!(
        "{} acknowledged, {unavailable} answered 503, {} failed after the listener closed ({refused} refused)",
        acknowledged.len(),
        outcomes.len() - acknowledged.len() - unavailable
    );
    assert!(
        acknowledged.len() >= USERS / 10,
        "the burst was under way at SIGTERM ({} acknowledged)",
        acknowledged.len()
    );

    // The database holds every acknowledged join (read by a new instance).
    let after = TestApp::spawn_on(database, &[]).await;
    let stored: std::collections::HashSet<i64> = after
        .participant_items(event, 100)
        .await
        .iter()
        .map(|item| item["user"]["id"].as_i64().unwrap())
        .collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
}
