//! Cluster mode's last line of defence, at the store (docs/CLUSTER.md):
//! once a newer owner has activated an event, everything an older owner
//! writes (a batch, a cancel, either step of a draw) fails whole, and the
//! new owner's load holds every batch the old one committed. Needs no
//! etcd: the tokens are given by hand, as two instances would hold them.

use chrono::Utc;
use lottery::domain::count::ParticipantCount;
use lottery::domain::membership::MemberWrites;
use lottery::domain::subscription::Subscriptions;
use lottery::error::AppError;
use lottery::store::{self, Db};

use crate::both_backends;
use crate::helpers::{event_body, fresh_database, Backend, TestApp};

both_backends!(
    a_stale_owner_writes_nothing_and_the_new_owner_sees_everything,
    a_takeover_waits_for_the_batch_that_passed_the_fence
);

fn joins(users: &[i64], count: u32) -> MemberWrites {
    MemberWrites {
        joins: users.iter().map(|&u| (u, Subscriptions::NONE)).collect(),
        count: ParticipantCount::of(count as usize),
        ..Default::default()
    }
}

async fn status(db: &Db, id: i64) -> String {
    store::live::load_live(db, id, None)
        .await
        .unwrap()
        .unwrap()
        .event
        .status
        .as_str()
        .to_string()
}

async fn a_stale_owner_writes_nothing_and_the_new_owner_sees_everything(backend: Backend) {
    let url = fresh_database(backend);
    let app = TestApp::spawn_on(url.clone(), &[]).await;
    let (creator, _) = app.login("creator").await;
    let (_, a) = app.login("a").await;
    let (_, b) = app.login("b").await;
    let id = app.create_event(&creator, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let db = Db::connect(&url, 2, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let now = Utc::now();

    // The first owner (token 5) activates and commits a join.
    let first = store::live::load_live(&db, id, Some(5)).await.unwrap();
    assert!(first.unwrap().members.is_empty());
    store::participants::apply_batch(&db, id, &joins(&[a], 1), None, now, Some(5))
        .await
        .expect("the owner's batch");

    // A newer owner (token 9) takes over: its load holds that join.
    let second = store::live::load_live(&db, id, Some(9))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.members, vec![(a, Subscriptions::NONE)]);

    // Everything the old owner tries now fails and changes nothing.
    let batch =
        store::participants::apply_batch(&db, id, &joins(&[b], 2), None, now, Some(5)).await;
    assert!(matches!(batch, Err(AppError::Fenced)), "{batch:?}");
    let counted = store::participants::apply_batch(
        &db,
        id,
        &MemberWrites {
            count: ParticipantCount::of(7),
            ..Default::default()
        },
        Some(ParticipantCount::of(7)),
        now,
        Some(5),
    )
    .await;
    assert!(matches!(counted, Err(AppError::Fenced)), "{counted:?}");
    assert_eq!(
        store::participants::user_ids(&db, id).await.unwrap(),
        vec![a]
    );
    let cancel = store::draws::cancel(&db, id, now, ParticipantCount::of(1), false, Some(5)).await;
    assert!(matches!(cancel, Err(AppError::Fenced)), "{cancel:?}");
    let draw =
        store::draws::draw(&db, id, now, Default::default(), Some(5), None, |_| vec![]).await;
    assert!(matches!(draw, Err(AppError::Fenced)), "{draw:?}");
    // A beacon draw's fixing of its list and round too (issue 25).
    let fixed = store::draws::fix_for_beacon(&db, id, Some(5), |t| t as u64).await;
    assert!(matches!(fixed, Err(AppError::Fenced)), "{fixed:?}");
    assert_eq!(status(&db, id).await, "open");
    let again = store::live::load_live(&db, id, Some(5)).await;
    assert!(
        matches!(again, Err(AppError::Fenced)),
        "an older claim cannot activate again"
    );

    // The new owner writes and draws.
    store::participants::apply_batch(&db, id, &joins(&[b], 2), None, now, Some(9))
        .await
        .expect("the new owner's batch");
    let mut stored = store::participants::user_ids(&db, id).await.unwrap();
    stored.sort_unstable();
    assert_eq!(stored, vec![a.min(b), a.max(b)]);
    let drawn = store::draws::draw(&db, id, now, Default::default(), Some(9), None, |_| vec![])
        .await
        .unwrap();
    assert_eq!(drawn.map(|s| s.as_str()), Some("drawn"));
    // Its own later activation (same key, same token) is allowed.
    assert!(store::live::load_live(&db, id, Some(9)).await.is_ok());
}

/// The race the fence's lock closes: the old owner's batch has passed the
/// fence and not committed yet when a new owner activates. The activation
/// waits for that commit (MySQL: the fence's shared lock on the event row;
/// SQLite: the one writer lock), so the new owner's load holds the join
/// the old owner is about to acknowledge.
async fn a_takeover_waits_for_the_batch_that_passed_the_fence(backend: Backend) {
    let url = fresh_database(backend);
    let app = TestApp::spawn_on(url.clone(), &[]).await;
    let (creator, _) = app.login("creator").await;
    let (_, a) = app.login("a").await;
    let id = app.create_event(&creator, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let timeout = std::time::Duration::from_secs(5);
    let old = Db::connect(&url, 1, timeout).await.unwrap();
    let new = Db::connect(&url, 1, timeout).await.unwrap();
    store::live::load_live(&old, id, Some(5)).await.unwrap();

    let (passed, fence_passed) = tokio::sync::oneshot::channel::<()>();
    let begin = old.begin_write();
    let fence = store::ownership::fence_sql(id, 5);
    let old_batch = async {
        let result: lottery::error::AppResult<()> = lottery::db_run!(&old, |conn| {
            conn.batch_execute(&format!("{begin}; {fence}")).await?;
            let _ = passed.send(());
            actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
            conn.batch_execute(&format!(
                "INSERT INTO participants (event_id, user_id, notify, joined_at) \
                 VALUES ({id}, {a}, 0, '2026-11-23 12:00:00'); COMMIT"
            ))
            .await?;
            Ok(())
        });
        result
    };
    let takeover = async {
        fence_passed.await.unwrap();
        store::live::load_live(&new, id, Some(9)).await
    };
    let (committed, loaded) = futures::join!(old_batch, takeover);
    committed.expect("the old owner's batch passed the fence before the takeover");
    let loaded = loaded.unwrap().unwrap();
    assert_eq!(
        loaded.members,
        vec![(a, Subscriptions::NONE)],
        "the new owner loaded after the old owner's commit"
    );
}
