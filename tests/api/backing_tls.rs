//! TLS to the backing services (issue 27, item 3): a MariaDB and a Redis
//! started here with TLS on, with certificates the test makes
//! (`TestPki`), and the server pointed at them with `LOTTERY_DATABASE_CA`
//! and `LOTTERY_REDIS_CA` / `_CLIENT_CERT` / `_CLIENT_KEY`. Run when
//! `LOTTERY_TEST_TLS_SERVERS` is set (mariadbd and redis-server on the
//! machine; `.ci/run` sets it), ignored otherwise.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lottery::store::Db;
use lottery::tls::ClientTls;
use serde_json::json;

use crate::helpers::{event_body, fresh_database, Backend, TestApp, TestPki};

/// A server process of the test's, stopped with it.
pub struct Spawned(pub Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub async fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fresh MariaDB whose only transport over TCP is TLS
/// (`require_secure_transport`), with a certificate for 127.0.0.1 from
/// `pki`, and a user `lottery` without a password (made over the socket,
/// which the requirement leaves alone; grant tables on, since skipping them
/// also skips the requirement).
async fn mariadb_with_tls(pki: &TestPki) -> (Spawned, u16) {
    let (cert, key) = pki.issue("mariadb", &["127.0.0.1", "localhost"]);
    let data = pki.dir.join("mariadb-data");
    let made = Command::new("mariadb-install-db")
        .args(["--no-defaults", "--user=root", "--skip-test-db"])
        .arg(format!("--datadir={}", data.display()))
        .output()
        .expect("mariadb-install-db runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = free_port();
    let server = Command::new("mariadbd")
        .args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1"])
        .arg("--require-secure-transport=ON")
        .arg(format!("--port={port}"))
        .arg(format!("--datadir={}", data.display()))
        .arg(format!(
            "--socket={}",
            pki.dir.join("mariadb.sock").display()
        ))
        .arg(format!(
            "--pid-file={}",
            pki.dir.join("mariadb.pid").display()
        ))
        .arg(format!(
            "--log-error={}",
            pki.dir.join("mariadb.err").display()
        ))
        .arg(format!("--ssl-ca={}", pki.ca))
        .arg(format!("--ssl-cert={cert}"))
        .arg(format!("--ssl-key={key}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mariadbd starts");
    let server = Spawned(server);
    wait_for_port(port, "mariadbd").await;
    let made = Command::new("mariadb")
        .arg("--no-defaults")
        .arg(format!(
            "--socket={}",
            pki.dir.join("mariadb.sock").display()
        ))
        .args(["-uroot", "-e"])
        .arg("CREATE USER lottery@'%'; GRANT ALL ON *.* TO lottery@'%';")
        .output()
        .expect("the mariadb client runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (server, port)
}

/// A Redis on TLS only (no plain port), asking every client for a
/// certificate from `pki`'s CA (`tls-auth-clients yes`).
async fn redis_with_tls(pki: &TestPki) -> (Spawned, u16) {
    let (cert, key) = pki.issue("redis", &["127.0.0.1", "localhost"]);
    let port = free_port();
    let server = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--save",
            "",
            "--appendonly",
            "no",
            "--bind",
            "127.0.0.1",
        ])
        .args(["--tls-port", &port.to_string()])
        .args(["--tls-cert-file", &cert, "--tls-key-file", &key])
        .args(["--tls-ca-cert-file", &pki.ca, "--tls-auth-clients", "yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let server = Spawned(server);
    wait_for_port(port, "redis-server").await;
    (server, port)
}

fn ca_of(path: &str) -> ClientTls {
    ClientTls {
        ca: Some(std::fs::read(path).unwrap()),
        identity: None,
    }
}

/// A MariaDB that takes TLS only: the server without TLS settings cannot
/// connect; with a CA that did not sign the server's certificate it
/// refuses the server; with `LOTTERY_DATABASE_CA` it runs on it (the
/// database created, migrations run, an event stored and read back).
#[actix_web::test]
#[cfg_attr(
    not(lottery_test_tls),
    ignore = "needs LOTTERY_TEST_TLS_SERVERS (mariadbd, redis-server)"
)]
async fn mysql_over_tls_checks_the_server_against_the_given_ca() {
    let pki = TestPki::new("mysql");
    let (_server, port) = mariadb_with_tls(&pki).await;
    let url = format!("mysql://lottery@127.0.0.1:{port}/lottery_tls");
    let timeout = Duration::from_secs(5);

    let plain = Db::connect(&url, 1, timeout)
        .await
        .err()
        .expect("refused in clear");
    assert!(plain.contains("MySQL"), "{plain}");
    let other = TestPki::new("mysql-other");
    let untrusted = Db::connect_with_tls(&url, 1, timeout, Some(ca_of(&other.ca)))
        .await
        .err()
        .expect("a server another CA signed is refused");
    assert!(
        untrusted.to_lowercase().contains("certificate"),
        "{untrusted}"
    );

    let app = TestApp::spawn_on(url, &[("LOTTERY_DATABASE_CA", &pki.ca)]).await;
    let (owner, _) = app.login("tls_owner").await;
    let id = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let (joiner, _) = app.login("tls_joiner").await;
    let joined = app
        .call(
            reqwest::Method::PUT,
            &format!("/events/{id}/participants/me"),
            Some(&joiner),
            Some(json!({})),
        )
        .await;
    assert_eq!(joined.status, 200, "{:?}", joined.body);
    let page = app.get(&format!("/events/{id}"), None).await;
    assert_eq!(page.data()["participant_count"], 1);
    assert_eq!(app.get("/readyz", None).await.status, 200);
}

/// A Redis on TLS that asks for client certificates: with the CA and a
/// client certificate the sessions live there (a login answers, its token
/// works, `/readyz` is 200); without the certificate, or with a plain
/// `redis://` URL to the TLS port, Redis is unreachable (503s, never a
/// session kept elsewhere). A CA or certificate without a `rediss://` URL
/// stops the server at start.
#[actix_web::test]
#[cfg_attr(
    not(lottery_test_tls),
    ignore = "needs LOTTERY_TEST_TLS_SERVERS (mariadbd, redis-server)"
)]
async fn redis_over_tls_with_a_client_certificate() {
    let pki = TestPki::new("redis");
    let (_server, port) = redis_with_tls(&pki).await;
    let (cert, key) = pki.issue("client", &["lottery-client"]);
    let rediss = format!("rediss://127.0.0.1:{port}/0");

    let app = TestApp::spawn_on(
        fresh_database(Backend::Sqlite),
        &[
            ("LOTTERY_REDIS_URL", &rediss),
            ("LOTTERY_REDIS_PREFIX", "tls:"),
            ("LOTTERY_REDIS_CA", &pki.ca),
            ("LOTTERY_REDIS_CLIENT_CERT", &cert),
            ("LOTTERY_REDIS_CLIENT_KEY", &key),
        ],
    )
    .await;
    let (token, user_id) = app.login("tls_user").await;
    let me = app.get("/me", Some(&token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.data()["id"], user_id);
    assert_eq!(app.get("/readyz", None).await.status, 200);

    for settings in [
        vec![
            ("LOTTERY_REDIS_URL", rediss.as_str()),
            ("LOTTERY_REDIS_CA", &pki.ca),
        ],
        vec![("LOTTERY_REDIS_URL", &format!("redis://127.0.0.1:{port}/0"))],
    ] {
        let refused = TestApp::spawn_on(fresh_database(Backend::Sqlite), &settings).await;
        let login = refused
            .post("/auth/login", None, json!({"code": "dev:tls_other"}))
            .await;
        assert_eq!(login.status, 503, "{settings:?}: {:?}", login.body);
        assert_eq!(refused.get("/readyz", None).await.status, 503);
    }

    let mut vars = std::collections::HashMap::from([
        (
            "LOTTERY_REDIS_URL".to_string(),
            "redis://127.0.0.1:6379".to_string(),
        ),
        ("LOTTERY_REDIS_CA".to_string(), pki.ca.clone()),
    ]);
    let err = lottery::config::Config::from_map(&vars).unwrap_err();
    assert!(err.contains("rediss://"), "{err}");
    vars.insert("LOTTERY_REDIS_URL".into(), rediss.clone());
    vars.insert("LOTTERY_REDIS_CLIENT_CERT".into(), cert);
    let err = lottery::config::Config::from_map(&vars).unwrap_err();
    assert!(err.contains("go together"), "{err}");
}
