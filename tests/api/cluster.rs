//! Cluster mode (docs/CLUSTER.md), in-process: instances of the real app
//! sharing one database, one Redis prefix and one etcd prefix. A crash is
//! staged by revoking an instance's lease in etcd behind its back (what
//! etcd does when a process stops renewing it); `load-tests/cluster.sh`
//! does the same with real processes, SIGKILL and SIGSTOP.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use etcd_client::{Client, GetOptions};
use rand::Rng;
use reqwest::Method;
use serde_json::json;

use crate::draw::verify_results;
use crate::helpers::{
    event_body, fresh_database, mysql_server, redis_server, redis_settings, setting_refs, Backend,
    TestApp,
};

/// Every test instance's `LOTTERY_CLUSTER_SECRET`.
const HOP_SECRET: &str = "test-hop-secret-0123456789abcdef0123";

fn etcd_url() -> String {
    std::env::var("LOTTERY_TEST_ETCD_URL").expect("LOTTERY_TEST_ETCD_URL (set at build time)")
}

struct Cluster {
    apps: Vec<TestApp>,
    prefix: String,
    etcd: Client,
}

impl Cluster {
    /// `n` instances (a, b, c, …) on a fresh database (MySQL when given),
    /// one Redis prefix and one etcd prefix of their own; a 2 s lease so
    /// failovers are quick.
    async fn start(n: usize) -> Self {
        Self::start_with(n, |_| Vec::new()).await
    }

    /// As `start`, each instance `i` with the settings `extra(i)` too.
    async fn start_with(n: usize, extra: impl Fn(usize) -> Vec<(String, String)>) -> Self {
        let backend = if mysql_server().is_some() {
            Backend::Mysql
        } else {
            Backend::Sqlite
        };
        let database = fresh_database(backend);
        let tag: u64 = rand::rng().random();
        let prefix = format!("/lottery_test_{tag:016x}/");
        let redis = redis_settings(&redis_server().expect("LOTTERY_TEST_REDIS_URL"));
        let mut apps = Vec::new();
        for i in 0..n {
            let id = ((b'a' + i as u8) as char).to_string();
            let mut settings = setting_refs(&redis);
            let endpoints = etcd_url();
            settings.extend([
                ("LOTTERY_ETCD_ENDPOINTS", endpoints.as_str()),
                ("LOTTERY_ETCD_PREFIX", prefix.as_str()),
                ("LOTTERY_ETCD_LEASE_TTL_SECS", "2"),
                ("LOTTERY_INSTANCE_ID", id.as_str()),
                ("LOTTERY_CLUSTER_SECRET", HOP_SECRET),
            ]);
            let own = extra(i);
            settings.extend(setting_refs(&own));
            apps.push(TestApp::spawn_on(database.clone(), &settings).await);
        }
        let etcd = Client::connect([etcd_url()], None).await.unwrap();
        Self { apps, prefix, etcd }
    }

    async fn value(&self, key: &str) -> Option<(String, i64)> {
        let found = self
            .etcd
            .clone()
            .get(format!("{}{key}", self.prefix), None)
            .await
            .unwrap();
        found
            .kvs()
            .first()
            .map(|kv| (kv.value_str().unwrap().to_string(), kv.lease()))
    }

    /// The instance id that owns the event in etcd.
    async fn owner(&self, event_id: i64) -> Option<String> {
        self.value(&format!("events/{event_id}"))
            .await
            .map(|(owner, _)| owner)
    }

    /// What etcd does to an instance that stops renewing: its lease ends
    /// and every key under it goes.
    async fn expire(&self, instance: &str) {
        let (_, lease) = self
            .value(&format!("members/{instance}"))
            .await
            .expect("registered");
        self.etcd.clone().lease_revoke(lease).await.unwrap();
    }

    async fn event_keys(&self) -> usize {
        self.etcd
            .clone()
            .get(
                format!("{}events/", self.prefix),
                Some(GetOptions::new().with_prefix().with_count_only()),
            )
            .await
            .unwrap()
            .count() as usize
    }
}

async fn join_at(app: &TestApp, token: &str, id: i64) -> crate::helpers::Reply {
    app.call(
        Method::PUT,
        &format!("/events/{id}/participants/me"),
        Some(token),
        None,
    )
    .await
}

async fn join_with_password(
    app: &TestApp,
    token: &str,
    id: i64,
    password: &str,
) -> crate::helpers::Reply {
    app.call(
        Method::PUT,
        &format!("/events/{id}/participants/me"),
        Some(token),
        Some(json!({ "password": password })),
    )
    .await
}

async fn stored_participants(app: &TestApp, id: i64) -> HashSet<i64> {
    app.participant_items(id, 100)
        .await
        .iter()
        .map(|p| p["user"]["id"].as_i64().unwrap())
        .collect()
}

/// The balancer is only a hint: a write that lands on an instance that
/// does not own the event is forwarded once to the owner and answered as
/// the owner answered; reads are answered where they land; a request
/// already forwarded is not forwarded again; a client cannot pass for an
/// instance.
#[actix_web::test]
#[cfg_attr(
    not(all(lottery_test_etcd, lottery_test_redis)),
    ignore = "needs LOTTERY_TEST_ETCD_URL and LOTTERY_TEST_REDIS_URL"
)]
async fn writes_reach_the_owner_wherever_they_land() {
    let cluster = Cluster::start(2).await;
    let (a, b) = (&cluster.apps[0], &cluster.apps[1]);
    let (creator, _) = a.login("creator").await;
    let (first, first_id) = a.login("first").await;
    let (second, second_id) = b.login("second").await;
    let id = a.create_event(&creator, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();

    assert_eq!(join_at(a, &first, id).await.status, 200);
    assert_eq!(cluster.owner(id).await.as_deref(), Some("a"));
    let forwarded = join_at(b, &second, id).await;
    assert_eq!(forwarded.status, 200, "{:?}", forwarded.body);
    assert_eq!(forwarded.data()["participant_count"], 2);
    assert_eq!(b.live_actors(), 0, "b served no actor of its own");
    assert_eq!(a.live_actors(), 1);
    assert_eq!(
        stored_participants(b, id).await,
        HashSet::from([first_id, second_id]),
        "b reads the event from the database"
    );

    // Leave and the creator's cancel, sent to b, are the owner's too.
    let left = b.leave(&second, id).await;
    assert_eq!(
        (
            left.status.as_u16(),
            left.data()["participant_count"].as_i64()
        ),
        (200, Some(1))
    );
    let wrong = b
        .post(&format!("/events/{id}/cancel"), Some(&first), json!({}))
        .await;
    assert_eq!(wrong.status, 403, "the owner checks who may cancel");

    // A request that already took its hop is not forwarded again.
    let hopped = b
        .client
        .put(format!("{}/api/v1/events/{id}/participants/me", b.base))
        .bearer_auth(&second)
        .header("x-lottery-hop", HOP_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(hopped.status(), 503);
    assert!(hopped.headers().contains_key("retry-after"));
    // A made-up secret is no hop: forwarded as any client's request.
    let forged = b
        .client
        .put(format!("{}/api/v1/events/{id}/participants/me", b.base))
        .bearer_auth(&second)
        .header("x-lottery-hop", "not-the-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 200);

    let cancelled = b
        .post(&format!("/events/{id}/cancel"), Some(&creator), json!({}))
        .await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    assert_eq!(cancelled.data()["status"], "cancelled");
    let metrics = b.metrics_text().await;
    assert!(
        metrics.contains(r#"lottery_forwarded_requests_total{result="answered"}"#),
        "{metrics}"
    );
}

/// The owner's lease ends behind its back (a paused or partitioned
/// process): another instance takes the event over on the next request and
/// sees every join the old owner acknowledged; whatever the old owner
/// still answers is either refused (503, its batch fenced by the database)
/// or stored. The old owner stops its actors and comes back as an
/// ordinary member with a new lease.
#[actix_web::test]
#[cfg_attr(
    not(all(lottery_test_etcd, lottery_test_redis)),
    ignore = "needs LOTTERY_TEST_ETCD_URL and LOTTERY_TEST_REDIS_URL"
)]
async fn a_lost_lease_hands_the_event_over_and_fences_the_old_owner() {
    let cluster = Cluster::start(2).await;
    let (a, b) = (&cluster.apps[0], &cluster.apps[1]);
    let (creator, _) = a.login("creator").await;
    let id = a.create_event(&creator, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let mut users = Vec::new();
    for i in 0..12 {
        users.push(a.login(&format!("u{i}")).await);
    }
    let mut acknowledged = HashSet::new();
    for (token, user) in &users[..4] {
        assert_eq!(join_at(a, token, id).await.status, 200);
        acknowledged.insert(*user);
    }
    assert_eq!(cluster.owner(id).await.as_deref(), Some("a"));

    cluster.expire("a").await;
    let started = Instant::now();
    // b takes over on its next request: its load holds a's four joins.
    let (token, user) = &users[4];
    let taken = loop {
        let r = join_at(b, token, id).await;
        if r.status == 200 || started.elapsed() > Duration::from_secs(10) {
            break r;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(taken.status, 200, "{:?}", taken.body);
    assert_eq!(taken.data()["participant_count"], 5);
    acknowledged.insert(*user);
    assert_eq!(cluster.owner(id).await.as_deref(), Some("b"));

    // Whatever a answers from now on is refused or stored, never lost.
    for (token, user) in &users[5..] {
        let r = join_at(a, token, id).await;
        match r.status.as_u16() {
            200 => {
                acknowledged.insert(*user);
            }
            503 => assert_eq!(r.code(), 50300),
            other => panic!("unexpected {other}: {:?}", r.body),
        }
        actix_web::rt::time::sleep(Duration::from_millis(150)).await;
    }
    let stored = stored_participants(b, id).await;
    assert!(
        acknowledged.is_subset(&stored),
        "acknowledged {acknowledged:?}, stored {stored:?}"
    );
    assert_eq!(a.live_actors(), 0, "a stopped the actor it no longer owns");
    let metrics = a.metrics_text().await;
    // (The recorder is the test process's: other tests count there too.)
    assert!(
        metrics.contains("lottery_cluster_lease_losses_total"),
        "{metrics}"
    );
    // a is a member again, under a new lease, and forwards to b.
    let (token, user) = &users[0];
    let again = join_at(a, token, id).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert!(stored_participants(b, id).await.contains(user));
    assert!(cluster.value("members/a").await.is_some());
}

/// An event due while its owner is dead (crashed: its lease runs out by
/// itself) is drawn once, by another instance, with the result its seed
/// gives; keys of events no one serves any more are given back.
#[actix_web::test]
#[cfg_attr(
    not(all(lottery_test_etcd, lottery_test_redis)),
    ignore = "needs LOTTERY_TEST_ETCD_URL and LOTTERY_TEST_REDIS_URL"
)]
async fn a_draw_due_during_a_failover_happens_once_elsewhere() {
    let mut cluster = Cluster::start(3).await;
    let a = &cluster.apps[0];
    let (creator, _) = a.login("creator").await;
    let id = a.create_event(&creator, event_body(4)).await["id"]
        .as_i64()
        .unwrap();
    let joined = a.joined_users(id, "p", 5).await;
    assert_eq!(joined.len(), 5);
    assert_eq!(cluster.owner(id).await.as_deref(), Some("a"));

    // a crashes before the draw; its lease runs out 2 s later.
    cluster.apps.remove(0).stop().await;
    let survivor = &cluster.apps[0];
    let drawn = survivor.wait_status(id, "drawn", 20).await;
    assert_eq!(drawn["status"], "drawn");
    assert_ne!(cluster.owner(id).await.as_deref(), Some("a"));
    // The winners are the ones the seed gives (the fairness record
    // verifies), one prize each, whichever instance asks.
    let fairness = verify_results(survivor, id).await;
    assert_eq!(fairness, verify_results(&cluster.apps[1], id).await);

    // Once its actor has stopped, the event's key is released.
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.event_keys().await > 0 && Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(cluster.event_keys().await, 0, "idle keys given back");
}

/// Claims and re-draws need no owner: every claim move is a conditional
/// update of the shared database, and a re-draw takes the event row's
/// lock. A claim sent to one instance is seen on the other; two re-draws
/// sent to both at once make one round; and an instance that had the
/// winners and the fairness record cached serves the new round once the
/// other's `results_changed` message reaches it.
#[actix_web::test]
#[cfg_attr(
    not(all(lottery_test_etcd, lottery_test_redis)),
    ignore = "needs LOTTERY_TEST_ETCD_URL and LOTTERY_TEST_REDIS_URL"
)]
async fn claims_and_redraws_hold_across_instances() {
    let cluster = Cluster::start(2).await;
    let (a, b) = (&cluster.apps[0], &cluster.apps[1]);
    let (creator, _) = a.login("creator").await;
    let id = a
        .create_event(
            &creator,
            json!({
                "title": "Cluster claims", "draw_mode": "manual",
                "draw_at": crate::helpers::in_secs(3600), "claim_days": 1,
                "prizes": [{"name": "Gold", "quantity": 2}]
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let users = a.joined_users(id, "p", 4).await;
    let drawn = b
        .post(&format!("/events/{id}/draw"), Some(&creator), json!({}))
        .await;
    assert_eq!(drawn.status, 200, "{:?}", drawn.body);

    // Both instances cache round 1's winners and fairness record.
    let mut round_one = Vec::new();
    for app in [a, b] {
        let winners = app.get(&format!("/events/{id}/winners"), None).await;
        assert_eq!(winners.data()["items"].as_array().unwrap().len(), 2);
        round_one.push(winners.data()["items"].clone());
        let fairness = app.get(&format!("/events/{id}/fairness"), None).await;
        assert_eq!(fairness.status, 200, "{:?}", fairness.body);
        assert!(fairness.data().get("redraws").is_none());
    }
    assert_eq!(round_one[0], round_one[1]);
    let won: Vec<i64> = round_one[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["user"]["id"].as_i64().unwrap())
        .collect();
    let winners: Vec<&(String, i64)> = users.iter().filter(|(_, u)| won.contains(u)).collect();

    // A claim given on a is read on b.
    let (claimer, _) = winners[0];
    let put = a
        .call(
            Method::PUT,
            &format!("/events/{id}/claim"),
            Some(claimer),
            Some(json!({"name": "王五", "phone": "13800000000", "address": "广州"})),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let seen = b.get(&format!("/events/{id}/claim"), Some(claimer)).await;
    assert_eq!(seen.data()["status"], "claimed");
    assert_eq!(seen.data()["details"]["name"], "王五");

    // The other winner lets the window pass (on both instances' clocks).
    for app in [a, b] {
        app.clock
            .advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    }
    let path = format!("/events/{id}/redraw");
    let (on_a, on_b) = tokio::join!(
        a.post(&path, Some(&creator), json!({})),
        b.post(&path, Some(&creator), json!({}))
    );
    let mut statuses = [on_a.status.as_u16(), on_b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{:?} {:?}", on_a.body, on_b.body);
    let done = if on_a.status == 200 { &on_a } else { &on_b };
    assert_eq!(done.data()["round"], 2);
    let new_winner = done.data()["winners"][0]["user"]["id"].as_i64().unwrap();
    assert!(!won.contains(&new_winner));

    // Both instances answer with round 2, whichever made it.
    for app in [a, b] {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let winners = app.get(&format!("/events/{id}/winners"), None).await;
            let fairness = app.get(&format!("/events/{id}/fairness"), None).await;
            let items = winners.data()["items"].as_array().unwrap().clone();
            let redraws = fairness.data()["redraws"].as_array().map_or(0, Vec::len);
            if items.len() == 3 && redraws == 1 {
                assert!(items
                    .iter()
                    .any(|w| w["user"]["id"] == new_winner && w["round"] == 2));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a stale round on one instance: {items:?}, {redraws} re-draws"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Join rules in cluster mode: a password join sent to either instance
/// is judged by the event's owner, wrong tries are counted once for the
/// cluster (by the owner's actor) whichever instance they land on, and a
/// draw with too few participants cancels the event once.
#[actix_web::test]
#[cfg_attr(
    not(all(lottery_test_etcd, lottery_test_redis)),
    ignore = "needs LOTTERY_TEST_ETCD_URL and LOTTERY_TEST_REDIS_URL"
)]
async fn join_rules_hold_across_instances() {
    let cluster = Cluster::start(2).await;
    let (a, b) = (&cluster.apps[0], &cluster.apps[1]);
    let (creator, _) = a.login("creator").await;
    let id = a
        .create_event(
            &creator,
            json!({
                "title": "Cluster rules", "draw_mode": "manual",
                "draw_at": crate::helpers::in_secs(3600),
                "join_password": "2718", "min_participants": 3,
                "prizes": [{"name": "Gold", "quantity": 1}]
            }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let (guesser, _) = a.login("guesser").await;
    let limit = lottery::domain::join_rules::PASSWORD_TRIES;
    for n in 0..limit {
        let app = if n % 2 == 0 { a } else { b };
        let r = join_with_password(app, &guesser, id, &format!("{n:04}")).await;
        assert_eq!(r.code(), 40310, "{:?}", r.body);
    }
    for app in [a, b] {
        let r = join_with_password(app, &guesser, id, "2718").await;
        assert_eq!(
            r.code(),
            42900,
            "out of tries on every instance: {:?}",
            r.body
        );
    }
    for (i, app) in [a, b].into_iter().enumerate() {
        let (token, _) = app.login(&format!("member{i}")).await;
        let r = join_with_password(app, &token, id, "2718").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let drawn = b
        .post(&format!("/events/{id}/draw"), Some(&creator), json!({}))
        .await;
    assert_eq!(drawn.status, 200, "{:?}", drawn.body);
    for app in [a, b] {
        let view = app.get(&format!("/events/{id}"), None).await;
        assert_eq!(view.data()["status"], "cancelled");
        assert_eq!(view.data()["cancel_reason"], "too_few_participants");
        assert_eq!(view.data()["participant_count"], 2);
    }
}

/// WeChat's verdict on an image, pushed to an instance that does not own
/// the event, reaches the owner's live page (and the other's view).
#[actix_web::test]
#[cfg_attr(
    not(all(lottery_test_etcd, lottery_test_redis)),
    ignore = "needs LOTTERY_TEST_ETCD_URL and LOTTERY_TEST_REDIS_URL"
)]
async fn an_image_verdict_reaches_the_owners_page_from_any_instance() {
    use crate::media::{picture, upload};
    use crate::wechat_mock::{login, push, verdict_body, PushMode, WechatMock};
    let mock = WechatMock::start(Duration::ZERO).await;
    let store = std::env::temp_dir().join(format!(
        "lottery-tests/cluster-media-{}",
        rand::random::<u64>()
    ));
    let shared = format!("fs://{}", store.display());
    let ports: Vec<u16> = (0..2).map(|_| crate::helpers::free_port()).collect();
    let cluster = Cluster::start_with(2, |i| {
        let mut settings = mock.settings();
        settings.extend([
            (
                "LOTTERY_BIND".to_string(),
                format!("127.0.0.1:{}", ports[i]),
            ),
            (
                "LOTTERY_PUBLIC_URL".to_string(),
                format!("http://127.0.0.1:{}", ports[i]),
            ),
            (
                "LOTTERY_WECHAT_PUSH_TOKEN".to_string(),
                "cluster-push-token".to_string(),
            ),
            ("LOTTERY_MEDIA_STORE".to_string(), shared.clone()),
        ]);
        settings
    })
    .await;
    let (a, b) = (&cluster.apps[0], &cluster.apps[1]);
    let (token, _) = login(a, "creator").await;
    let r = upload(
        a,
        &token,
        "c.jpg",
        &picture(40, 30, image::ImageFormat::Jpeg),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let cover = r.data()["id"].as_str().unwrap().to_string();
    let id = a
        .create_event(
            &token,
            json!({"title": "Cluster cover", "draw_at": crate::helpers::in_secs(3600),
                   "cover": cover, "prizes": [{"name": "Mug", "quantity": 1}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    // A join makes the event live at its owner.
    let (joiner, _) = login(b, "joiner").await;
    assert_eq!(join_at(b, &joiner, id).await.status, 200);
    let owner = cluster.owner(id).await.expect("owned");
    let (owner_app, other) = if owner == "a" { (a, b) } else { (b, a) };
    assert!(owner_app.get(&format!("/events/{id}"), None).await.data()["cover"].is_null());
    let trace = mock.media_checks()[0]["trace_id"]
        .as_str()
        .unwrap()
        .to_string();
    let pass = verdict_body(&trace, "pass", 0, false);
    let (status, body) = push(other, "cluster-push-token", PushMode::PlainJson, &pass).await;
    assert_eq!((status, body.as_str()), (200, "success"));
    for app in [owner_app, other] {
        let mut shown = false;
        for _ in 0..100 {
            let page = app.get(&format!("/events/{id}"), None).await;
            if page.data()["cover"]["id"] == cover.as_str() {
                shown = true;
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(shown, "the cover is not shown on an instance's page");
    }
}

/// A non-canonical event id (`+N`, `0N`, `%3N`) is 40000 on the owner and
/// on the other instance alike, never a 503 from a forward that did not
/// recognise it (issue 24's finding 6).
#[actix_web::test]
#[cfg_attr(
    not(all(lottery_test_etcd, lottery_test_redis)),
    ignore = "needs LOTTERY_TEST_ETCD_URL and LOTTERY_TEST_REDIS_URL"
)]
async fn other_spellings_of_an_id_are_refused_on_every_instance() {
    let cluster = Cluster::start(2).await;
    let (a, b) = (&cluster.apps[0], &cluster.apps[1]);
    let (creator, _) = a.login("speller").await;
    let id = a.create_event(&creator, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let (joiner, _) = a.login("joiner").await;
    assert_eq!(join_at(a, &joiner, id).await.status, 200);
    for app in [a, b] {
        for spelling in crate::events::other_spellings(id) {
            let r = app
                .call(
                    Method::PUT,
                    &format!("/events/{spelling}/participants/me"),
                    Some(&joiner),
                    None,
                )
                .await;
            assert_eq!(
                (r.status.as_u16(), r.code()),
                (400, 40000),
                "{spelling}: {:?}",
                r.body
            );
        }
    }
}

/// Issue 24, finding 4: whoever could write etcd could register a member
/// URL and an owner key, then receive forwarded writes with the user's
/// bearer token and the hop secret, which was readable in etcd; and a
/// valid hop header skipped signing and the address limits on every route.
/// Now the secret is a setting (nothing in etcd), members outside
/// `LOTTERY_CLUSTER_PEERS` are never forwarded to, and the hop header
/// counts only on a forwarded write's route and method.
#[actix_web::test]
#[cfg_attr(
    not(all(lottery_test_etcd, lottery_test_redis)),
    ignore = "needs LOTTERY_TEST_ETCD_URL and LOTTERY_TEST_REDIS_URL"
)]
async fn an_etcd_writer_receives_nothing_and_the_hop_opens_only_forwarded_writes() {
    let cluster = Cluster::start_with(2, |_| {
        vec![("LOTTERY_LIMIT_LOGIN".to_string(), "1/m:1".to_string())]
    })
    .await;
    let (a, b) = (&cluster.apps[0], &cluster.apps[1]);
    assert_eq!(cluster.value("hop-secret").await, None, "no secret in etcd");
    let (creator, _) = a.login("trust_creator").await;
    let (joiner, _) = b.login("trust_joiner").await;

    // The login limit (one a minute per address; with Redis an instance
    // lets a key's first few through before it checks) holds for requests
    // that carry the valid hop header: a login is no forwarded write.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let login = b
            .client
            .post(format!("{}/api/v1/auth/login", b.base))
            .header("x-lottery-hop", HOP_SECRET)
            .json(&json!({"code": format!("dev:trust_more{i}")}))
            .send()
            .await
            .unwrap();
        statuses.push(login.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");

    // What an etcd writer can do: register members and claim events.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(socket);
        }
    });
    let outside = a.create_event(&creator, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let inside = a.create_event(&creator, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let mut etcd = cluster.etcd.clone();
    let put = |key: String, value: String| {
        let mut etcd = etcd.clone();
        async move { etcd.put(key, value, None).await.unwrap() }
    };
    let prefix = &cluster.prefix;
    // A name is never resolved, so `localhost` is outside the default
    // peers (loopback and private ranges by address).
    put(
        format!("{prefix}members/rogue"),
        format!("http://localhost:{port}"),
    )
    .await;
    put(format!("{prefix}events/{outside}"), "rogue".into()).await;
    // The control: the same listener at an allowed address does receive
    // a forward, so the count above could have moved.
    put(
        format!("{prefix}members/inside"),
        format!("http://127.0.0.1:{port}"),
    )
    .await;
    put(format!("{prefix}events/{inside}"), "inside".into()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    for app in [a, b] {
        let r = join_at(app, &joiner, outside).await;
        assert_eq!((r.status.as_u16(), r.code()), (503, 50300), "{:?}", r.body);
    }
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing was sent to a member outside LOTTERY_CLUSTER_PEERS"
    );
    let r = join_at(b, &joiner, inside).await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert!(connections.load(std::sync::atomic::Ordering::SeqCst) >= 1);

    // Once the rogue key is gone the event is served as ever.
    etcd.delete(format!("{prefix}events/{outside}"), None)
        .await
        .unwrap();
    let r = join_at(b, &joiner, outside).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// A CA, and a server certificate for 127.0.0.1 signed by it: the files
/// of the CA, the certificate and its key.
fn make_certificates(name: &str) -> [String; 3] {
    let pki = crate::helpers::TestPki::new(name);
    let (cert, key) = pki.issue("server", &["127.0.0.1"]);
    [pki.ca, cert, key]
}

/// Issue 24, finding 4: instance-to-instance traffic can use TLS. With
/// `LOTTERY_TLS_CERT` / `_KEY` an instance serves HTTPS and advertises an
/// `https://` URL; a forwarded write then travels over TLS, its owner's
/// certificate checked against `LOTTERY_CLUSTER_CA`. An instance that
/// trusts another CA does not forward (503, nothing sent in clear).
#[actix_web::test]
#[cfg_attr(
    not(all(lottery_test_etcd, lottery_test_redis)),
    ignore = "needs LOTTERY_TEST_ETCD_URL and LOTTERY_TEST_REDIS_URL"
)]
async fn forwarded_writes_travel_over_tls_to_a_certificate_the_cluster_ca_signed() {
    let [ca, cert, key] = make_certificates("cluster");
    let [other_ca, _, _] = make_certificates("other");
    let cluster = Cluster::start_with(3, |i| {
        let trusted = if i == 2 { &other_ca } else { &ca };
        vec![
            ("LOTTERY_TLS_CERT".to_string(), cert.clone()),
            ("LOTTERY_TLS_KEY".to_string(), key.clone()),
            ("LOTTERY_CLUSTER_CA".to_string(), trusted.clone()),
        ]
    })
    .await;
    let (a, b, c) = (&cluster.apps[0], &cluster.apps[1], &cluster.apps[2]);
    assert!(a.base.starts_with("https://"));
    let (url, _) = cluster.value("members/a").await.unwrap();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let (creator, _) = a.login("tls_creator").await;
    let (first, _) = a.login("tls_first").await;
    let (second, _) = b.login("tls_second").await;
    let (third, _) = c.login("tls_third").await;
    let id = a.create_event(&creator, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(join_at(a, &first, id).await.status, 200);
    assert_eq!(cluster.owner(id).await.as_deref(), Some("a"));
    let forwarded = join_at(b, &second, id).await;
    assert_eq!(forwarded.status, 200, "{:?}", forwarded.body);
    assert_eq!(forwarded.data()["participant_count"], 2);
    // c does not trust a's certificate: no forward, and nothing stored.
    let refused = join_at(c, &third, id).await;
    assert_eq!(
        (refused.status.as_u16(), refused.code()),
        (503, 50300),
        "{:?}",
        refused.body
    );
    let event = a.get(&format!("/events/{id}"), None).await;
    assert_eq!(event.data()["participant_count"], 2);
    // What decided it: a's certificate verifies against the cluster's CA
    // and not against the other one.
    for (root, verifies) in [(&ca, true), (&other_ca, false)] {
        let pem = std::fs::read(root).unwrap();
        let client = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap();
        let answer = client.get(format!("{}/healthz", a.base)).send().await;
        assert_eq!(answer.is_ok(), verifies, "{root}: {answer:?}");
    }
    // The port speaks nothing but TLS.
    let plain = reqwest::get(a.base.replace("https://", "http://") + "/healthz").await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
}

/// A beacon draw taken over (issue 25): the owner fixed the list's hash and
/// the round, then crashed while the beacon was down; the instance that
/// takes the event over draws it with that same round and list, never a
/// later round and never the seed alone.
#[actix_web::test]
#[cfg_attr(
    not(all(lottery_test_etcd, lottery_test_redis)),
    ignore = "needs LOTTERY_TEST_ETCD_URL and LOTTERY_TEST_REDIS_URL"
)]
async fn a_beacon_draw_taken_over_uses_the_round_its_owner_fixed() {
    use crate::beacon_standin::{Mode, StandIn};
    let beacon = StandIn::start(2).await;
    beacon.set_mode(Mode::Down);
    let settings: Vec<(String, String)> = beacon
        .settings()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let mut cluster = Cluster::start_with(2, |_| settings.clone()).await;
    let a = &cluster.apps[0];
    let (creator, _) = a.login("creator").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    let id = a.create_event(&creator, body).await["id"].as_i64().unwrap();
    a.joined_users(id, "p", 5).await;
    assert_eq!(cluster.owner(id).await.as_deref(), Some("a"));
    let ordered = a
        .post(&format!("/events/{id}/draw"), Some(&creator), json!({}))
        .await;
    assert_eq!(ordered.status, 503, "{:?}", ordered.body);
    let fixed = a.wait_status(id, "drawing", 5).await["fairness"]["beacon"].clone();
    assert!(fixed["round"].as_u64().is_some(), "{fixed}");

    cluster.apps.remove(0).stop().await;
    beacon.set_mode(Mode::Serving);
    let survivor = &cluster.apps[0];
    let drawn = survivor.wait_status(id, "drawn", 60).await;
    let used = &drawn["fairness"]["beacon"];
    assert_eq!(used["round"], fixed["round"]);
    assert_eq!(used["fixed_at"], fixed["fixed_at"]);
    assert_eq!(used["participants_hash"], fixed["participants_hash"]);
    assert_eq!(cluster.owner(id).await.as_deref(), Some("b"));
    let record: lottery::domain::fairness::FairnessRecord =
        serde_json::from_value(verify_results(survivor, id).await).unwrap();
    record
        .beacon
        .expect("drawn with the beacon")
        .check_with_chain(&beacon.chain())
        .unwrap();
}

/// Issue 27, item 3: etcd over TLS. An etcd started here on `https://`
/// with `--client-cert-auth` and certificates the test makes: two
/// instances given `LOTTERY_ETCD_CA` and a client certificate form a
/// cluster through it (a join on the instance that does not own the event
/// is forwarded to the one that does, and stored); an instance without
/// the client certificate cannot join etcd and does not start.
#[actix_web::test]
#[cfg_attr(
    not(all(lottery_test_etcd, lottery_test_redis, lottery_test_tls)),
    ignore = "needs LOTTERY_TEST_ETCD_URL, LOTTERY_TEST_REDIS_URL and LOTTERY_TEST_TLS_SERVERS"
)]
async fn instances_reach_etcd_over_tls_with_a_client_certificate() {
    use crate::backing_tls::{free_port, wait_for_port, Spawned};
    let pki = crate::helpers::TestPki::new("etcd");
    let (cert, key) = pki.issue("etcd", &["127.0.0.1", "localhost"]);
    let (client_cert, client_key) = pki.issue("client", &["lottery-instance"]);
    let (port, peer) = (free_port(), free_port());
    let etcd = std::process::Command::new("etcd")
        .arg("--data-dir")
        .arg(pki.dir.join("etcd"))
        .args(["--listen-client-urls", &format!("https://127.0.0.1:{port}")])
        .args([
            "--advertise-client-urls",
            &format!("https://127.0.0.1:{port}"),
        ])
        .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
        .args([
            "--initial-advertise-peer-urls",
            &format!("http://127.0.0.1:{peer}"),
        ])
        .args([
            "--initial-cluster",
            &format!("default=http://127.0.0.1:{peer}"),
        ])
        .args(["--cert-file", &cert, "--key-file", &key])
        .args(["--trusted-ca-file", &pki.ca, "--client-cert-auth"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("etcd starts");
    let _etcd = Spawned(etcd);
    wait_for_port(port, "etcd").await;
    let endpoint = format!("https://127.0.0.1:{port}");
    let tls = [
        ("LOTTERY_ETCD_ENDPOINTS", endpoint.as_str()),
        ("LOTTERY_ETCD_CA", pki.ca.as_str()),
        ("LOTTERY_ETCD_CLIENT_CERT", client_cert.as_str()),
        ("LOTTERY_ETCD_CLIENT_KEY", client_key.as_str()),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let cluster = Cluster::start_with(2, |_| tls.to_vec()).await;
    let (a, b) = (&cluster.apps[0], &cluster.apps[1]);
    let (creator, _) = a.login("etcd_tls_creator").await;
    let id = a.create_event(&creator, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let (joiner, _) = b.login("etcd_tls_joiner").await;
    for app in [a, b] {
        let joined = join_at(app, &joiner, id).await;
        assert_eq!(joined.status, 200, "{:?}", joined.body);
    }
    // Stored once, whichever instance owns the event.
    for app in [a, b] {
        let list = app.get(&format!("/events/{id}/participants"), None).await;
        assert_eq!(list.data()["items"].as_array().unwrap().len(), 1);
    }

    let mut vars: std::collections::HashMap<String, String> = tls[..2].iter().cloned().collect();
    vars.extend(redis_settings(&redis_server().unwrap()));
    vars.insert(
        "LOTTERY_DATABASE_URL".into(),
        fresh_database(Backend::Sqlite),
    );
    vars.insert("LOTTERY_BIND".into(), "127.0.0.1:0".into());
    vars.insert("LOTTERY_CLUSTER_SECRET".into(), HOP_SECRET.into());
    vars.insert("LOTTERY_INSTANCE_ID".into(), "no-cert".into());
    let config = lottery::config::Config::from_map(&vars).unwrap();
    let refused = lottery::startup::Application::build(config).await.err();
    let refused = refused.expect("no client certificate, no cluster");
    assert!(refused.to_string().contains("etcd"), "{refused}");
}
