//! Cluster mode: a write for an event another instance owns (join, leave,
//! cancel, draw) is forwarded there once and its answer passed back. The
//! balancer's consistent hash normally lands a request on its event's
//! owner; this covers the rest (a new owner after a failover, a hash ring
//! that changed). No redirects: a mini-program may only call its one
//! whitelisted domain.
//!
//! A forwarded request carries the cluster's secret in `X-Lottery-Hop`:
//! the owner then skips what the first instance already did (address
//! limits, the signature and its nonce) and still authenticates the
//! session and applies the user's limit itself. A forwarded request that
//! finds the event owned elsewhere again answers 503 + Retry-After rather
//! than hop a second time. Reads are never forwarded: a view of an event
//! owned elsewhere is answered from the database or this instance's cache.

use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpResponse, ResponseError};

use super::body::read_limited;
use super::client_addr::{self, CLIENT_IP_HEADER};
use super::event_id;
use super::middleware::refusal;
use super::route_label;
use super::state::AppState;
use crate::cluster::Route;
use crate::error::AppError;

pub const HOP_HEADER: HeaderName = HeaderName::from_static("x-lottery-hop");

/// Longer than a creator's order may keep its caller (10 s).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(12);

/// Headers the owner needs to answer as if the client had called it.
const PASSED_ON: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("x-request-id"),
];

/// The event id of a write that goes through its event's actor.
fn forwardable(method: &Method, path: &str) -> Option<i64> {
    let writes = match route_label(path) {
        "/api/v1/events/{id}/participants/me" => {
            *method == Method::PUT || *method == Method::DELETE
        }
        "/api/v1/events/{id}/cancel" | "/api/v1/events/{id}/draw" => *method == Method::POST,
        _ => false,
    };
    if !writes {
        return None;
    }
    event_id::in_path(path)
}

/// Whether the request is a write another instance of the cluster
/// forwarded here (see `hop_in`).
pub fn is_forwarded(req: &ServiceRequest, state: &AppState) -> bool {
    hop_in(req.method(), req.path(), req.headers(), state)
}

/// Whether a request is a forwarded write: the cluster's valid hop secret
/// on the route and method of a write that is forwarded. Anywhere else the
/// header means nothing (issue 24, finding 4: a valid hop header skipped
/// signing and the address limits on every `/api/` route), so whoever
/// learnt the secret gains nothing on the other routes.
pub fn hop_in(method: &Method, path: &str, headers: &HeaderMap, state: &AppState) -> bool {
    forwardable(method, path).is_some()
        && headers
            .get(&HOP_HEADER)
            .is_some_and(|value| state.placement.is_hop(value.as_bytes()))
}

/// The client writes are forwarded with. `https://` members' certificates
/// are checked against `ca` (`LOTTERY_CLUSTER_CA`) alone when it is set,
/// else against the public roots.
pub fn client(ca: Option<&std::path::Path>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(1))
        .timeout(FORWARD_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(30))
        // A member answers itself: a redirect is not followed anywhere.
        .redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = ca {
        builder = builder.tls_built_in_root_certs(false);
        for root in crate::tls::trusted_roots(ca)? {
            builder = builder.add_root_certificate(root);
        }
    }
    builder
        .build()
        .map_err(|e| format!("the forwarding client: {e}"))
}

pub async fn forward_writes(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let target = forwardable(req.method(), req.path());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let (Some(event_id), Some(state)) = (target, state) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let url = match state.events.route(event_id).await {
        Ok(Route::Here(_)) => {
            return next
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body);
        }
        Ok(Route::There(url)) => url,
        Err(err) => return Ok(refusal(req, &err)),
    };
    if is_forwarded(&req, &state) {
        metrics::counter!("lottery_forwarded_requests_total", "result" => "second_hop_refused")
            .increment(1);
        return Ok(refusal(req, &AppError::changing_servers()));
    }
    let body = match read_limited(&mut req.take_payload(), state.config.body).await {
        Ok(body) => body.freeze(),
        Err(err) => return Ok(refusal(req, &err)),
    };
    let answer = forward(&req, &url, body, &state).await;
    let (http_req, _) = req.into_parts();
    let response = answer.unwrap_or_else(|err| err.error_response());
    Ok(ServiceResponse::new(http_req, response).map_into_right_body())
}

/// Sends the request to the owner and turns its answer into ours.
async fn forward(
    req: &ServiceRequest,
    owner: &str,
    body: web::Bytes,
    state: &AppState,
) -> Result<HttpResponse, AppError> {
    let path = req
        .uri()
        .path_and_query()
        .map_or(req.path(), |p| p.as_str());
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|_| AppError::InvalidArgument("bad method".into()))?;
    let Some(client) = &state.forward_client else {
        return Err(AppError::internal("a forward without a cluster"));
    };
    let mut outgoing = client
        .request(method, format!("{owner}{path}"))
        .header(
            HOP_HEADER.as_str(),
            state.placement.hop_secret().unwrap_or_default(),
        )
        .body(body);
    for name in &PASSED_ON {
        if let Some(value) = req.headers().get(name) {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
    }
    // The owner's fraud check needs the client's address, which it cannot
    // see: the one seen here goes along, believed there for the hop secret.
    if let Some(peer) = req.peer_addr() {
        let ip = client_addr::direct(peer.ip(), req.headers(), state);
        outgoing = outgoing.header(CLIENT_IP_HEADER.as_str(), ip.to_string());
    }
    let unreachable = |err: reqwest::Error| {
        metrics::counter!("lottery_forwarded_requests_total", "result" => "owner_unreachable")
            .increment(1);
        tracing::warn!(owner, error = %err, "the event's owner did not answer a forwarded request");
        // Its lease runs out within the TTL; then the retry lands on a new owner.
        AppError::Unavailable("the event's server is unreachable; try again".into())
    };
    let answer = outgoing.send().await.map_err(unreachable)?;
    let status = StatusCode::from_u16(answer.status().as_u16())
        .map_err(|_| AppError::Upstream("the event's server answered strangely".into()))?;
    let mut response = HttpResponse::build(status);
    for name in [header::CONTENT_TYPE, header::RETRY_AFTER] {
        if let Some(value) = answer.headers().get(name.as_str()) {
            response.insert_header((name, value.as_bytes()));
        }
    }
    let body = answer.bytes().await.map_err(unreachable)?;
    metrics::counter!("lottery_forwarded_requests_total", "result" => "answered").increment(1);
    Ok(response.body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_writes_through_an_actor_are_forwarded() {
        let join = "/api/v1/events/42/participants/me";
        assert_eq!(forwardable(&Method::PUT, join), Some(42));
        assert_eq!(forwardable(&Method::DELETE, join), Some(42));
        assert_eq!(forwardable(&Method::POST, "/api/v1/events/7/draw"), Some(7));
        assert_eq!(
            forwardable(&Method::POST, "/api/v1/events/7/cancel"),
            Some(7)
        );
        assert_eq!(forwardable(&Method::GET, "/api/v1/events/7"), None);
        assert_eq!(
            forwardable(&Method::GET, "/api/v1/events/7/participants"),
            None
        );
        assert_eq!(forwardable(&Method::POST, "/api/v1/events"), None);
        assert_eq!(forwardable(&Method::GET, join), None);
    }
}
