//! Open connections per client address (issue 24, finding 1). Every
//! connection holds a file descriptor until it closes: 40 clients that
//! trickled bodies exhausted a process limited to 64 files, and a normal
//! request then failed. Body deadlines (`api::body`) bound how long one
//! connection is held; this bounds how many one address holds at once.
//!
//! Counted where the connection is accepted (`HttpServer::on_connect`),
//! before a byte of it is read: one over the cap gets a 429 in the
//! contract's envelope, written straight to the socket, and is shut down
//! (its worker reads end-of-stream and drops it). The count goes down when
//! the connection's data, which holds its `Held`, is dropped with it.
//! Trusted proxies are not counted: every client behind them shares their
//! address (their own limits are theirs to set).

use std::any::Any;
use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::IpAddr;
use std::sync::Arc;

use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;
use ipnet::IpNet;
use parking_lot::Mutex;

use super::client_ip::{bucket, is_trusted};

#[derive(Clone)]
pub struct ConnectionCap(Arc<Inner>);

struct Inner {
    max: usize,
    ipv6_prefix: u8,
    trusted: Vec<IpNet>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One counted connection; dropped with the connection.
struct Held {
    cap: Arc<Inner>,
    key: IpAddr,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = self.cap.open.lock();
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

impl ConnectionCap {
    pub fn new(max: usize, ipv6_prefix: u8, trusted: Vec<IpNet>) -> Self {
        Self(Arc::new(Inner {
            max,
            ipv6_prefix,
            trusted,
            open: Mutex::default(),
        }))
    }

    /// A place for one more connection from `peer`; None at the cap.
    fn take(&self, peer: IpAddr) -> Option<Option<Held>> {
        if is_trusted(&peer, &self.0.trusted) {
            return Some(None);
        }
        let key = bucket(peer, self.0.ipv6_prefix);
        let mut open = self.0.open.lock();
        let count = open.entry(key).or_default();
        if *count >= self.0.max {
            return None;
        }
        *count += 1;
        Some(Some(Held {
            cap: self.0.clone(),
            key,
        }))
    }

    /// `HttpServer::on_connect`: counts the new connection, or refuses it.
    /// A TLS connection (`LOTTERY_TLS_CERT`) arrives here after its
    /// handshake; its refusal is only the close (no plain-text answer).
    pub fn on_connect(&self, io: &dyn Any, data: &mut Extensions) {
        let (stream, plain) = if let Some(stream) = io.downcast_ref::<TcpStream>() {
            (stream, true)
        } else if let Some(tls) = io.downcast_ref::<TlsStream<TcpStream>>() {
            (tls.get_ref().0, false)
        } else {
            return;
        };
        let Ok(peer) = stream.peer_addr() else {
            return;
        };
        match self.take(peer.ip()) {
            Some(Some(held)) => {
                data.insert(held);
            }
            Some(None) => {}
            None => {
                metrics::counter!("lottery_connections_refused_total").increment(1);
                refuse(stream, plain);
            }
        }
    }

    /// Connections counted now (for tests and the gauge).
    pub fn open(&self) -> usize {
        self.0.open.lock().values().sum()
    }
}

/// The refusal, best effort: a fresh socket's send buffer takes these few
/// hundred bytes at once; if not, the client sees the connection closed.
fn refuse(stream: &TcpStream, plain: bool) {
    // Straight system calls: tokio's own try_write would wait for a
    // readiness event this new socket has not had yet.
    let socket = socket2::SockRef::from(stream);
    if plain {
        let body = r#"{"code":42900,"message":"too many connections from your address; close some and retry","data":null}"#;
        let mut answer = Vec::with_capacity(256);
        let _ = write!(
            answer,
            "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n\
             retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = socket.send(&answer);
    }
    let _ = socket.shutdown(std::net::Shutdown::Write);
    // What the client sent already is read and dropped: a socket closed
    // with unread data answers with a reset, which would throw the 429
    // away at the client before it reads it.
    let mut sink = [0u8; 4096];
    for _ in 0..16 {
        match (&*socket).read(&mut sink) {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
    // The worker then reads end-of-stream at once and drops the connection.
    let _ = socket.shutdown(std::net::Shutdown::Read);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_holds_at_most_max_and_a_closed_one_frees_its_place() {
        let cap = ConnectionCap::new(2, 64, vec!["10.0.0.0/8".parse().unwrap()]);
        let a = cap.take(ip("192.0.2.1")).unwrap();
        let b = cap.take(ip("192.0.2.1")).unwrap();
        assert!(cap.take(ip("192.0.2.1")).is_none());
        // Another address, and an IPv6 /64 counted as one client.
        let _c = cap.take(ip("192.0.2.2")).unwrap();
        let _d = cap.take(ip("2001:db8::1")).unwrap();
        let _e = cap.take(ip("2001:db8::2")).unwrap();
        assert!(cap.take(ip("2001:db8::ffff")).is_none());
        // Trusted proxies are never counted.
        for _ in 0..5 {
            assert!(cap.take(ip("10.1.2.3")).unwrap().is_none());
        }
        drop(a);
        assert!(cap.take(ip("192.0.2.1")).is_some());
        drop(b);
        assert_eq!(cap.open(), 3, "dropped places are given back");
    }
}
