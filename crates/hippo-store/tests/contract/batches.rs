//! Batches with idempotency keys: a resent keyed item is a replay (nothing written, the first
//! record's id), a key reused for another input refuses the whole batch, and two batches racing
//! with one key still write one record.

use super::*;
use hippo_store::{BatchItem, BatchOutcome};

contract!(
    keyed_batch_items_replay_and_reused_keys_refuse_the_batch,
    racing_batches_with_one_key_write_one_record,
);

fn keyed(subject: &str, n: i64, key: Option<&str>) -> BatchItem {
    BatchItem {
        input: input("Patient", subject, json!({"n": n})),
        idempotency_key: key.map(str::to_owned),
    }
}

async fn count(store: &Arc<dyn Store>, t: &TenantId) -> usize {
    store
        .list_records(
            t,
            RecordFilter::default(),
            None,
            1000,
            draft(Some(t), Action::RecordList),
        )
        .await
        .unwrap()
        .items
        .len()
}

async fn keyed_batch_items_replay_and_reused_keys_refuse_the_batch(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let batch = vec![
        keyed("p-1", 1, Some("k-1")),
        keyed("p-2", 2, None),
        keyed("p-3", 3, Some("k-3")),
    ];
    let first = store
        .create_records(
            &t,
            batch.clone(),
            "w",
            draft(Some(&t), Action::RecordCreate),
        )
        .await
        .unwrap();
    assert!(first.iter().all(|o| matches!(o, BatchOutcome::Created(_))));
    let again = store
        .create_records(&t, batch, "w", draft(Some(&t), Action::RecordCreate))
        .await
        .unwrap();
    assert_eq!(again[0], BatchOutcome::Replayed(first[0].id()));
    assert!(
        matches!(again[1], BatchOutcome::Created(_)),
        "no key, no replay"
    );
    assert_eq!(again[2], BatchOutcome::Replayed(first[2].id()));
    assert_eq!(count(&store, &t).await, 4);

    // The batch's event says how many items were replays; each created record has its own.
    let events = log(&store, Some(&t)).await;
    let batch_events: Vec<_> = events
        .iter()
        .filter(|e| e.details.get("batch").is_some())
        .collect();
    assert_eq!(batch_events.len(), 2);
    assert_eq!(batch_events[1].details["replayed"], 2);
    assert!(
        events
            .iter()
            .all(|e| !e.details.to_string().contains("k-1")),
        "keys are not in the audit trail"
    );

    // Reused for another input, or twice in one batch: refused by item, nothing written.
    for (bad, item) in [
        (
            vec![keyed("p-9", 9, Some("k-9")), keyed("p-1", 99, Some("k-1"))],
            1,
        ),
        (
            vec![keyed("p-8", 8, Some("k-8")), keyed("p-8", 8, Some("k-8"))],
            1,
        ),
    ] {
        let e = store
            .create_records(&t, bad, "w", draft(Some(&t), Action::RecordCreate))
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::IdempotencyKeyReused { item: i } if i == item),
            "{e:?}"
        );
    }
    assert_eq!(count(&store, &t).await, 4);
    // k-9 was not stored by the refused batch: it is free.
    let ok = store
        .create_records(
            &t,
            vec![keyed("p-9", 10, Some("k-9"))],
            "w",
            draft(Some(&t), Action::RecordCreate),
        )
        .await
        .unwrap();
    assert!(matches!(ok[0], BatchOutcome::Created(_)));

    // Keys are per tenant.
    let other = with_tenant(&store, "other").await;
    let there = store
        .create_records(
            &other,
            vec![keyed("p-1", 1, Some("k-1"))],
            "w",
            draft(Some(&other), Action::RecordCreate),
        )
        .await
        .unwrap();
    assert!(matches!(there[0], BatchOutcome::Created(_)));
}

async fn racing_batches_with_one_key_write_one_record(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    for round in 0..5 {
        let key = format!("race-{round}");
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (store, t, key) = (store.clone(), t.clone(), key.clone());
                tokio::spawn(async move {
                    // A loser of the race may be told to retry; its retry is a replay.
                    for _ in 0..5 {
                        match store
                            .create_records(
                                &t,
                                vec![keyed("p-r", round, Some(&key))],
                                "w",
                                draft(Some(&t), Action::RecordCreate),
                            )
                            .await
                        {
                            Ok(o) => return o[0].id(),
                            Err(StoreError::Unavailable(_)) => continue,
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                    panic!("no answer after five attempts")
                })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap());
        }
        assert!(
            ids.windows(2).all(|w| w[0] == w[1]),
            "one record per key: {ids:?}"
        );
    }
    assert_eq!(count(&store, &t).await, 5);
}
