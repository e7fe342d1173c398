//! A client that trickles a request body to hold its connection (issue
//! 24, finding 1): a JSON body has 10 s to arrive once its headers have
//! (src/api/body.rs), then the answer is 408 40800 (not the login's 200:
//! the handler never ran) and the connection is closed. Raw TCP, since an HTTP
//! client sends its body as fast as it can.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp};

#[actix_web::test]
async fn a_trickled_body_is_408_and_its_connection_closed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut conn = TcpStream::connect(&addr).await.unwrap();
    let body = br#"{"code": "dev:slowpoke"}"#;
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // A byte every two seconds: each within actix's idle limits, the body
    // as a whole never in time.
    let mut answer = Vec::new();
    for byte in body.iter() {
        conn.write_all(&[*byte]).await.unwrap();
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Ok(Err(_)) => break,
            Err(_) => continue,
        }
    }
    let waited = started.elapsed();
    let text = String::from_utf8_lossy(&answer).to_string();
    assert!(
        text.starts_with("HTTP/1.1 408"),
        "{text:?} after {waited:?}"
    );
    assert!(text.contains("40800"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(20),
        "answered after {waited:?}"
    );
    // The server closed its side: the next read ends.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(_))), "the connection stayed open");
}
