use std::collections::HashSet;

use futures::future::join_all;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{event_body, Backend, TestApp};

both_backends!(
    a_thousand_concurrent_joins_by_500_users,
    joins_on_dedicated_actor_threads,
    joins_racing_the_draw
);

async fn logins(app: &TestApp, prefix: &str, n: usize) -> Vec<(String, i64)> {
    let mut out = vec![];
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        out.extend(
            join_all(
                chunk
                    .iter()
                    .map(|i| app.login_owned(format!("{prefix}{i}"))),
            )
            .await,
        );
    }
    out
}

impl TestApp {
    async fn login_owned(&self, name: String) -> (String, i64) {
        self.login(&name).await
    }
}

async fn a_thousand_concurrent_joins_by_500_users(backend: Backend) {
    concurrent_joins(TestApp::spawn(backend).await).await;
}

/// `LOTTERY_ACTOR_THREADS` moves the actors off the HTTP workers.
async fn joins_on_dedicated_actor_threads(backend: Backend) {
    let url = crate::helpers::fresh_database(backend);
    concurrent_joins(TestApp::spawn_on(url, &[("LOTTERY_ACTOR_THREADS", "2")]).await).await;
}

async fn concurrent_joins(app: TestApp) {
    let (owner, _) = app.login("owner").await;
    let id = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let users = logins(&app, "c", 500).await;
    let attempts = users
        .iter()
        .chain(users.iter())
        .map(|(t, _)| app.join(t, id));
    let replies = join_all(attempts).await;
    let failures: Vec<_> = replies
        .iter()
        .filter(|r| r.status != 200)
        .map(|r| r.body.clone())
        .collect();
    assert!(
        failures.is_empty(),
        "every join answered 200: {:?}",
        &failures[..failures.len().min(3)]
    );
    assert!(replies.iter().all(|r| r.data()["joined"] == true));

    let event = app.get(&format!("/events/{id}"), None).await;
    assert_eq!(event.data()["participant_count"], 500);
    let stored: HashSet<i64> = app
        .participant_items(id, 100)
        .await
        .iter()
        .map(|p| p["user"]["id"].as_i64().unwrap())
        .collect();
    let expected: HashSet<i64> = users.iter().map(|(_, id)| *id).collect();
    assert_eq!(stored, expected, "exactly the 500 users, each once");
}

async fn joins_racing_the_draw(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    let users = logins(&app, "r", 300).await;

    let joins = join_all(users.iter().map(|(t, _)| app.join(t, id)));
    let draw = async {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        app.post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
            .await
    };
    let (replies, drawn) = futures::join!(joins, draw);
    assert_eq!(drawn.status, 200, "{:?}", drawn.body);

    let fairness = crate::draw::verify_results(&app, id).await;
    let considered = crate::draw::considered(&fairness);
    let mut acknowledged = HashSet::new();
    for ((_, uid), reply) in users.iter().zip(&replies) {
        match reply.status.as_u16() {
            200 => {
                acknowledged.insert(*uid);
            }
            409 => assert_eq!(reply.code(), 40900),
            other => panic!("unexpected answer {other}: {:?}", reply.body),
        }
    }
    assert_eq!(
        acknowledged, considered,
        "every 200 took part in the draw, and nothing else did"
    );
    // Joining again is refused: nothing arrives after the draw began.
    assert_eq!(app.join(&users[0].0, id).await.code(), 40900);
}
