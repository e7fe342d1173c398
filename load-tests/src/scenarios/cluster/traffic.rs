//! The traffic: workers taking turns over the events and users, one
//! request in four a view, the rest joins; what each answer says about
//! its event, which joins were acknowledged, and each request's latency
//! and second (for the report and the chart).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::json;

use super::outages::Outages;
use crate::api::Api;
use crate::stats::Report;

#[derive(Default)]
pub struct Tally {
    pub joins_ok: AtomicU64,
    pub views_ok: AtomicU64,
    pub refused: AtomicU64,
    pub unavailable: AtomicU64,
    pub unexpected: AtomicU64,
}

pub struct Run {
    api: Api,
    users: Arc<Vec<(String, i64)>>,
    events: Vec<i64>,
    next: AtomicUsize,
    pub tally: Tally,
    /// (event, user) of every join answered 200.
    pub acked: Mutex<HashSet<(i64, i64)>>,
    pub outages: Outages,
    pub unexpected_examples: Mutex<Vec<String>>,
    /// Latencies of the answers 200, and failures per second.
    pub report: Mutex<Report>,
}

impl Run {
    pub fn new(
        api: Api,
        users: Arc<Vec<(String, i64)>>,
        events: Vec<i64>,
        started: Instant,
    ) -> Self {
        Self {
            api,
            users,
            events,
            next: AtomicUsize::new(0),
            tally: Tally::default(),
            acked: Mutex::default(),
            outages: Outages::default(),
            unexpected_examples: Mutex::default(),
            report: Mutex::new(Report::new("cluster traffic", started)),
        }
    }

    pub async fn worker(self: Arc<Self>, until: Instant) {
        while Instant::now() < until {
            let k = self.next.fetch_add(1, Ordering::Relaxed);
            let event = self.events[k % self.events.len()];
            let (token, user) = &self.users[(k / self.events.len()) % self.users.len()];
            // One request in four is a visitor opening a shared event.
            let view = rand::rng().random_ratio(1, 4);
            let step = if view { "view" } else { "join" };
            let sent = Instant::now();
            let answer = if view {
                self.api
                    .call(
                        reqwest::Method::GET,
                        &format!("/api/v1/events/{event}"),
                        None,
                        None,
                    )
                    .await
            } else {
                self.api
                    .call(
                        reqwest::Method::PUT,
                        &format!("/api/v1/events/{event}/participants/me"),
                        Some(token),
                        Some(json!({})),
                    )
                    .await
            };
            let done = Instant::now();
            match answer {
                Ok(a) if a.status == 200 => {
                    let mut report = self.report.lock().unwrap();
                    report.step(step, done - sent);
                    report.succeeded(None, done - sent, done);
                    drop(report);
                    self.outages.served(event);
                    if view {
                        self.tally.views_ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        self.tally.joins_ok.fetch_add(1, Ordering::Relaxed);
                        self.acked.lock().unwrap().insert((event, *user));
                    }
                }
                // Full, or closed once drawn: the event answered.
                Ok(a) if a.status == 409 => {
                    let mut report = self.report.lock().unwrap();
                    report.step(step, done - sent);
                    report.refused("HTTP 409 (full or drawn)".into());
                    drop(report);
                    self.outages.served(event);
                    self.tally.refused.fetch_add(1, Ordering::Relaxed);
                }
                Ok(a) if a.status == 503 || a.status == 502 || a.status == 504 => {
                    let label = format!("HTTP {}", a.status);
                    self.report.lock().unwrap().failed(label, done);
                    self.outages.failed(event);
                    self.tally.unavailable.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => {
                    self.report.lock().unwrap().failed(e, done);
                    self.outages.failed(event);
                    self.tally.unavailable.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(a) => {
                    let label = format!("HTTP {} code {}", a.status, a.code);
                    self.report.lock().unwrap().failed(label, done);
                    self.tally.unexpected.fetch_add(1, Ordering::Relaxed);
                    let mut examples = self.unexpected_examples.lock().unwrap();
                    if examples.len() < 5 {
                        examples.push(format!("HTTP {} code {}", a.status, a.code));
                    }
                }
            }
        }
    }
}
