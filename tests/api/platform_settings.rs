//! The real binary under the variables Kubernetes gives a pod for a
//! Service named `lottery`: it starts and serves; a misspelt `LOTTERY_*`
//! setting, or one of those names written in a config file, still stops it
//! with a message naming the key.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{free_port, fresh_database, Backend};

/// What the platform injects for a Service `lottery` with a port `http`.
const INJECTED: &[(&str, &str)] = &[
    ("LOTTERY_PORT", "tcp://10.0.0.1:8080"),
    ("LOTTERY_PORT_8080_TCP", "tcp://10.0.0.1:8080"),
    ("LOTTERY_PORT_8080_TCP_PROTO", "tcp"),
    ("LOTTERY_PORT_8080_TCP_PORT", "8080"),
    ("LOTTERY_PORT_8080_TCP_ADDR", "10.0.0.1"),
    ("LOTTERY_SERVICE_HOST", "10.0.0.1"),
    ("LOTTERY_SERVICE_PORT", "8080"),
    ("LOTTERY_SERVICE_PORT_HTTP", "8080"),
];

/// The binary with only `vars` in its environment.
fn binary(vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lottery"));
    command
        .env_clear()
        .env("RUST_LOG", "warn")
        .envs(vars.iter().copied());
    command
}

/// A run that must stop at its configuration, naming `key`. Should it get
/// past the configuration, the database (nothing listens on port 1) stops
/// it rather than leaving the test waiting on a server.
fn refused(vars: &[(&str, &str)], key: &str) {
    let mut vars = vars.to_vec();
    vars.push(("LOTTERY_BIND", "127.0.0.1:0"));
    vars.push(("LOTTERY_DATABASE_URL", "mysql://root@127.0.0.1:1/none"));
    let Output { status, stderr, .. } = binary(&vars).output().unwrap();
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(!status.success(), "started with {key}");
    assert!(
        stderr.contains("configuration") && stderr.contains(key),
        "{stderr}"
    );
}

#[actix_web::test]
async fn the_binary_starts_under_the_platforms_service_variables() {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let database = fresh_database(Backend::Sqlite);
    let mut vars = vec![
        ("LOTTERY_BIND", bind.as_str()),
        ("LOTTERY_DATABASE_URL", database.as_str()),
    ];
    vars.extend_from_slice(INJECTED);
    let mut child = binary(&vars)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the lottery binary starts");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let healthy = loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "exited ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let reply = client.get(format!("http://{bind}/healthz")).send().await;
        if reply.is_ok_and(|r| r.status() == 200) {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(healthy, "no answer on /healthz within 30 s");
}

#[test]
fn a_misspelt_setting_still_stops_the_binary_by_name() {
    for key in ["LOTTERY_PORTT", "LOTTERY_SERVICE_HOSTS"] {
        let mut vars = INJECTED.to_vec();
        vars.push((key, "10.0.0.1"));
        refused(&vars, key);
    }
}

/// A config file is written by a person: a platform's name there is a
/// mistake (`LOTTERY_PORT` for the listen address), not an injection.
#[test]
fn a_config_file_holding_a_platform_name_is_refused() {
    let dir = std::env::temp_dir().join("lottery-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("platform-{}.conf", std::process::id()));
    std::fs::write(&file, "LOTTERY_PORT=9090\n").unwrap();
    refused(
        &[("LOTTERY_CONFIG", file.to_str().unwrap())],
        "LOTTERY_PORT",
    );
    std::fs::remove_file(&file).unwrap();
}
