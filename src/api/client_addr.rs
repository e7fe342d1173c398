//! The client's address as the per-address limits see it: the peer, or
//! behind a trusted proxy the address it forwarded for. A write another
//! instance forwarded here carries the address that instance saw in
//! `x-lottery-client-ip`, believed only with a valid hop secret.

use std::net::IpAddr;

use actix_web::http::header::{HeaderMap, HeaderName};
use actix_web::HttpRequest;

use super::state::AppState;
use crate::limits::client_ip::{client_ip, forwarded_for, is_trusted};

pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// Set by the forwarding instance on a forwarded write.
pub const CLIENT_IP_HEADER: HeaderName = HeaderName::from_static("x-lottery-client-ip");

/// The address of whoever sent a request that reached this instance
/// directly (`peer`: the TCP peer).
pub fn direct(peer: IpAddr, headers: &HeaderMap, state: &AppState) -> IpAddr {
    // Most peers are no proxy: their header lines are not read at all
    // (this runs for every request).
    if !is_trusted(&peer, &state.config.trusted_proxies) {
        return peer;
    }
    let forwarded = forwarded_for(
        headers
            .get_all(&X_FORWARDED_FOR)
            .map(|v| v.to_str().map(str::to_string).map_err(|_| ())),
    );
    client_ip(peer, forwarded.as_deref(), &state.config.trusted_proxies)
}

/// The client's address for a handler; None without a peer (never over
/// TCP, which always has one).
pub fn of(req: &HttpRequest, state: &AppState) -> Option<IpAddr> {
    if super::forward::hop_in(req.method(), req.path(), req.headers(), state) {
        if let Some(ip) = req
            .headers()
            .get(&CLIENT_IP_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
        {
            return Some(ip);
        }
    }
    req.peer_addr()
        .map(|peer| direct(peer.ip(), req.headers(), state))
}
