//! Records: versions, tombstones and history, stale writes that change nothing, filters and
//! keyset pagination, tenant isolation, and concurrent updates of one record.

use super::*;

contract!(
    records_version_tombstone_and_history,
    stale_versions_and_type_changes_change_nothing,
    list_filters_and_keyset_pagination,
    tenants_cannot_see_each_others_records,
    concurrent_updates_of_one_record_conflict_cleanly,
);

async fn records_version_tombstone_and_history(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let d = |a| draft(Some(&t), a);
    let v1 = store
        .create_record(
            &t,
            input("Patient", "p-1", json!({"name": "Ann", "n": 1.5})),
            "writer-1",
            d(Action::RecordCreate),
        )
        .await
        .unwrap();
    assert_eq!((v1.version, v1.deleted), (1, false));
    assert!(v1.body_intact());
    let got = store
        .get_record(&t, v1.id, d(Action::RecordRead))
        .await
        .unwrap();
    assert_eq!(got, v1, "a read returns exactly what was written");

    let v2 = store
        .update_record(
            &t,
            v1.id,
            1,
            input("Patient", "p-1", json!({"name": "Bea"})),
            "writer-2",
            d(Action::RecordUpdate),
        )
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(
        (v2.created_at_ms, v2.created_by.as_str()),
        (v1.created_at_ms, "writer-1")
    );
    assert_eq!(v2.updated_by, "writer-2");

    let tomb = store
        .delete_record(&t, v1.id, Some(2), "writer-3", d(Action::RecordDelete))
        .await
        .unwrap();
    assert_eq!((tomb.version, tomb.deleted), (3, true));
    assert!(tomb.body.is_empty());
    let r = store.get_record(&t, v1.id, d(Action::RecordRead)).await;
    assert!(matches!(r, Err(StoreError::RecordDeleted(_))), "{r:?}");
    let r = store
        .delete_record(&t, v1.id, None, "w", d(Action::RecordDelete))
        .await;
    assert!(matches!(r, Err(StoreError::RecordDeleted(_))), "{r:?}");
    let r = store
        .update_record(
            &t,
            v1.id,
            3,
            input("Patient", "p-1", json!({})),
            "w",
            d(Action::RecordUpdate),
        )
        .await;
    assert!(matches!(r, Err(StoreError::RecordDeleted(_))), "{r:?}");

    let history = store
        .record_history(&t, v1.id, d(Action::RecordHistory))
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|r| r.version).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(history[0], v1);
    let old = store
        .get_record_version(&t, v1.id, 1, d(Action::RecordRead))
        .await
        .unwrap();
    assert_eq!(old.body["name"], "Ann");
    let r = store
        .get_record_version(&t, v1.id, 9, d(Action::RecordRead))
        .await;
    assert!(
        matches!(r, Err(StoreError::VersionNotFound { version: 9, .. })),
        "{r:?}"
    );
    let missing = RecordId::new();
    for r in [
        store.get_record(&t, missing, d(Action::RecordRead)).await,
        store
            .delete_record(&t, missing, None, "w", d(Action::RecordDelete))
            .await,
    ] {
        assert!(matches!(r, Err(StoreError::RecordNotFound(_))), "{r:?}");
    }
    let r = store
        .record_history(&t, missing, d(Action::RecordHistory))
        .await;
    assert!(matches!(r, Err(StoreError::RecordNotFound(_))), "{r:?}");
}

async fn stale_versions_and_type_changes_change_nothing(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let d = |a| draft(Some(&t), a);
    let r = store
        .create_record(
            &t,
            input("Patient", "p", json!({"a": 1})),
            "w",
            d(Action::RecordCreate),
        )
        .await
        .unwrap();
    let stale = store
        .update_record(
            &t,
            r.id,
            7,
            input("Patient", "p", json!({"a": 2})),
            "w",
            d(Action::RecordUpdate),
        )
        .await;
    assert!(
        matches!(stale, Err(StoreError::VersionConflict { current: 1 })),
        "{stale:?}"
    );
    let retyped = store
        .update_record(
            &t,
            r.id,
            1,
            input("Observation", "p", json!({})),
            "w",
            d(Action::RecordUpdate),
        )
        .await;
    assert!(
        matches!(retyped, Err(StoreError::TypeChange)),
        "{retyped:?}"
    );
    let del = store
        .delete_record(&t, r.id, Some(5), "w", d(Action::RecordDelete))
        .await;
    assert!(
        matches!(del, Err(StoreError::VersionConflict { current: 1 })),
        "{del:?}"
    );
    let now = store
        .get_record(&t, r.id, d(Action::RecordRead))
        .await
        .unwrap();
    assert_eq!(now, r, "refused writes left the record as it was");
}

async fn list_filters_and_keyset_pagination(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let d = |a| draft(Some(&t), a);
    let mut made = Vec::new();
    for i in 0..23 {
        let (kind, subject) = if i % 4 == 0 {
            ("Observation", "p-obs".to_owned())
        } else {
            ("Patient", format!("p-{i}"))
        };
        made.push(
            store
                .create_record(
                    &t,
                    input(kind, &subject, json!({"i": i})),
                    "w",
                    d(Action::RecordCreate),
                )
                .await
                .unwrap(),
        );
    }
    store
        .delete_record(&t, made[1].id, None, "w", d(Action::RecordDelete))
        .await
        .unwrap();
    let patients = RecordFilter {
        record_type: Some("Patient".into()),
        ..RecordFilter::default()
    };
    let (mut seen, mut after) = (Vec::new(), None);
    loop {
        let page = store
            .list_records(&t, patients.clone(), after, 5, d(Action::RecordList))
            .await
            .unwrap();
        assert!(page.items.len() <= 5);
        seen.extend(page.items.iter().map(|r| r.id));
        match page.next_cursor {
            Some(c) => after = Some(hippo_core::cursor::decode(&c).unwrap().parse().unwrap()),
            None => break,
        }
    }
    let expected: Vec<RecordId> = made
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 4 != 0 && *i != 1)
        .map(|(_, r)| r.id)
        .collect();
    assert_eq!(
        seen, expected,
        "creation order, no gaps, no repeats, no tombstones"
    );

    let with_deleted = RecordFilter {
        include_deleted: true,
        ..patients.clone()
    };
    let page = store
        .list_records(&t, with_deleted, None, 100, d(Action::RecordList))
        .await
        .unwrap();
    assert_eq!(page.items.len(), expected.len() + 1);
    assert!(page.next_cursor.is_none());
    let by_subject = RecordFilter {
        subject: Some("p-obs".into()),
        ..RecordFilter::default()
    };
    let page = store
        .list_records(&t, by_subject, None, 100, d(Action::RecordList))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 6);
    let future = RecordFilter {
        updated_since_ms: Some(i64::MAX / 2),
        ..RecordFilter::default()
    };
    let page = store
        .list_records(&t, future, None, 100, d(Action::RecordList))
        .await
        .unwrap();
    assert!(page.items.is_empty());
}

async fn tenants_cannot_see_each_others_records(store: Arc<dyn Store>) {
    let a = with_tenant(&store, "clinic-a").await;
    let b = with_tenant(&store, "clinic-b").await;
    let rec_b = store
        .create_record(
            &b,
            input("Patient", "b-1", json!({"x": 1})),
            "w",
            draft(Some(&b), Action::RecordCreate),
        )
        .await
        .unwrap();
    let da = |act| draft(Some(&a), act);
    let r = store.get_record(&a, rec_b.id, da(Action::RecordRead)).await;
    assert!(matches!(r, Err(StoreError::RecordNotFound(_))), "{r:?}");
    let r = store
        .update_record(
            &a,
            rec_b.id,
            1,
            input("Patient", "x", json!({})),
            "w",
            da(Action::RecordUpdate),
        )
        .await;
    assert!(matches!(r, Err(StoreError::RecordNotFound(_))), "{r:?}");
    let r = store
        .record_history(&a, rec_b.id, da(Action::RecordHistory))
        .await;
    assert!(matches!(r, Err(StoreError::RecordNotFound(_))), "{r:?}");
    let page = store
        .list_records(
            &a,
            RecordFilter::default(),
            None,
            100,
            da(Action::RecordList),
        )
        .await
        .unwrap();
    assert!(page.items.is_empty());
    let still = store
        .get_record(&b, rec_b.id, draft(Some(&b), Action::RecordRead))
        .await
        .unwrap();
    assert_eq!(still, rec_b);
    // Each tenant's log holds only its own events.
    assert!(log(&store, Some(&a))
        .await
        .iter()
        .all(|e| e.tenant.as_deref() == Some("clinic-a")));
}

async fn concurrent_updates_of_one_record_conflict_cleanly(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let r = store
        .create_record(
            &t,
            input("Patient", "p", json!({})),
            "w",
            draft(Some(&t), Action::RecordCreate),
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (store, t) = (store.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            store
                .update_record(
                    &t,
                    r.id,
                    1,
                    input("Patient", "p", json!({"writer": i})),
                    "w",
                    draft(Some(&t), Action::RecordUpdate),
                )
                .await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(rec) => {
                won += 1;
                assert_eq!(rec.version, 2);
            }
            Err(StoreError::VersionConflict { current: 2 }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one writer of version 2");
}
