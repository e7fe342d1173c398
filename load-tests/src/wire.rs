//! The timed phases' HTTP client: one HTTP/1.1 connection per worker, kept
//! open and reused, the request written straight to the socket and the
//! answer parsed with httparse, in the worker's own task. This is what wrk
//! does. reqwest's pooled client cost the generator as much CPU as the
//! server spent answering, and hyper's connection-level client (a second
//! task per connection, a channel hop per request) still reached only
//! 0.86-0.90 of wrk's `/healthz` rate on the same server: the baseline
//! measured the tool (docs/BENCHMARKS.md, "The generator"). Setup and
//! verification keep using reqwest (`api.rs`): they are not timed.
//! Answers must carry Content-Length (the server's always do: it sends no
//! chunked bodies without Accept-Encoding, and we send none).

use std::io::Write;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

/// One worker's connection and the requests of its current item.
pub struct Conn {
    addr: SocketAddr,
    host: String,
    stream: Option<TcpStream>,
    /// What was read and not yet consumed.
    buf: BytesMut,
    /// The request being written (reused: no allocation per request).
    out: Vec<u8>,
    /// The answered requests since `begin`: two clock reads per request
    /// (on this VM a clock read is a system call), from which the worker
    /// times each step and the whole item.
    exchanges: Vec<Exchange>,
}

/// One answered request: its step (named in `send`), when it was sent
/// and when its whole answer was in.
pub struct Exchange {
    pub step: &'static str,
    pub sent: Instant,
    pub answered: Instant,
}

/// An answer: its HTTP status and its body, not yet parsed.
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    /// The contract's envelope: (code, data).
    pub fn envelope(&self) -> (i64, Value) {
        let v: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        (v["code"].as_i64().unwrap_or(-1), v["data"].clone())
    }

    /// The data of a success (200, or 201 for a creation), or an error
    /// label naming status and code.
    pub fn data(&self) -> Result<Value, String> {
        let (code, data) = self.envelope();
        if (200..300).contains(&self.status) {
            Ok(data)
        } else {
            Err(format!("HTTP {} code {code}", self.status))
        }
    }

    /// Ok for a 200 without parsing the body (the cheapest check).
    pub fn ok(&self) -> Result<(), String> {
        if self.status == 200 {
            Ok(())
        } else {
            Err(format!("HTTP {} code {}", self.status, self.envelope().0))
        }
    }
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            host: addr.to_string(),
            stream: None,
            buf: BytesMut::with_capacity(16 * 1024),
            out: Vec::with_capacity(1024),
            exchanges: Vec::with_capacity(4),
        }
    }

    /// Starts an item: forgets the last item's requests.
    pub fn begin(&mut self) {
        self.exchanges.clear();
    }

    /// The requests answered since `begin`, in order.
    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    /// Sends one request and reads its whole answer; on a transport error
    /// the connection is dropped and the next call opens a new one.
    pub async fn send(
        &mut self,
        step: &'static str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Bytes>,
    ) -> Result<Reply, String> {
        self.out.clear();
        let body = body.unwrap_or_default();
        let _ = write!(
            self.out,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n",
            self.host
        );
        if let Some(t) = token {
            let _ = write!(self.out, "Authorization: Bearer {t}\r\n");
        }
        if !body.is_empty() {
            self.out
                .extend_from_slice(b"Content-Type: application/json\r\n");
        }
        let _ = write!(self.out, "Content-Length: {}\r\n\r\n", body.len());
        self.out.extend_from_slice(&body);
        let sent = Instant::now();
        let result = self.exchange().await;
        if result.is_err() {
            self.stream = None;
            self.buf.clear();
        }
        let reply = result?;
        self.exchanges.push(Exchange {
            step,
            sent,
            answered: Instant::now(),
        });
        Ok(reply)
    }

    async fn exchange(&mut self) -> Result<Reply, String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr)
                .await
                .map_err(|_| "connect".to_string())?;
            let _ = stream.set_nodelay(true);
            self.stream = Some(stream);
            self.buf.clear();
        }
        self.stream
            .as_mut()
            .expect("connected")
            .write_all(&self.out)
            .await
            .map_err(|_| "transport".to_string())?;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut res = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = res
                .parse(&self.buf)
                .map_err(|_| "malformed answer".to_string())?
            {
                let status = res.code.unwrap_or(0);
                let mut length = None;
                let mut close = false;
                for h in res.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        length = std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|v| v.parse().ok());
                    } else if h.name.eq_ignore_ascii_case("connection") {
                        close = h.value.eq_ignore_ascii_case(b"close");
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        return Err("chunked answer".into());
                    }
                }
                let length: usize = length.unwrap_or(0);
                while self.buf.len() < head + length {
                    self.fill().await?;
                }
                self.buf.advance(head);
                let body = self.buf.split_to(length).freeze();
                if close {
                    self.stream = None;
                } else if let (Some(stream), true) = (&self.stream, self.buf.is_empty()) {
                    // The whole answer is in, and the server sends nothing
                    // before our next request: mark the socket not readable
                    // without the read that would fail with EAGAIN (one
                    // syscall per request, ~10 % of the generator's CPU).
                    let _ = stream.try_io(Interest::READABLE, || {
                        Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                    });
                }
                return Ok(Reply { status, body });
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<(), String> {
        let stream = self.stream.as_mut().ok_or("transport")?;
        self.buf.reserve(16 * 1024);
        match stream.read_buf(&mut self.buf).await {
            Ok(0) | Err(_) => Err("transport".into()),
            Ok(_) => Ok(()),
        }
    }

    pub async fn get(
        &mut self,
        step: &'static str,
        path: &str,
        token: Option<&str>,
    ) -> Result<Reply, String> {
        self.send(step, "GET", path, token, None).await
    }

    pub async fn join(
        &mut self,
        token: &str,
        event_id: i64,
        notify: bool,
    ) -> Result<Reply, String> {
        let body = notify.then(|| Bytes::from_static(br#"{"notify":true}"#));
        self.send(
            "join",
            "PUT",
            &format!("/api/v1/events/{event_id}/participants/me"),
            Some(token),
            body,
        )
        .await
    }

    /// A join with the body given (a password or a group proof).
    pub async fn join_with(
        &mut self,
        token: &str,
        event_id: i64,
        body: Bytes,
    ) -> Result<Reply, String> {
        self.send(
            "join",
            "PUT",
            &format!("/api/v1/events/{event_id}/participants/me"),
            Some(token),
            Some(body),
        )
        .await
    }

    pub async fn leave(&mut self, token: &str, event_id: i64) -> Result<Reply, String> {
        self.send(
            "leave",
            "DELETE",
            &format!("/api/v1/events/{event_id}/participants/me"),
            Some(token),
            None,
        )
        .await
    }

    pub async fn create_event(&mut self, token: &str, body: &Value) -> Result<i64, String> {
        let data = self
            .send(
                "create",
                "POST",
                "/api/v1/events",
                Some(token),
                Some(Bytes::from(body.to_string())),
            )
            .await?
            .data()?;
        data["id"]
            .as_i64()
            .ok_or_else(|| "create answer without id".into())
    }

    /// Dev login: (token, user id).
    pub async fn login(&mut self, name: &str) -> Result<(String, i64), String> {
        let body = serde_json::json!({ "code": format!("dev:{name}") }).to_string();
        let data = self
            .send(
                "login",
                "POST",
                "/api/v1/auth/login",
                None,
                Some(Bytes::from(body)),
            )
            .await?
            .data()?;
        match (data["token"].as_str(), data["user"]["id"].as_i64()) {
            (Some(t), Some(id)) => Ok((t.to_string(), id)),
            _ => Err("login answer without token".into()),
        }
    }
}
