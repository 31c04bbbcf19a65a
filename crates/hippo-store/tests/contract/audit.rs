//! The audit log: one event per call, the system log for events without a tenant, queries,
//! a gap-free sequence under concurrent writers, and keyed hashes instead of sensitive values.

use super::*;

contract!(
    every_call_writes_exactly_one_audit_event,
    events_without_a_tenant_go_to_the_system_log,
    audit_queries_filter_and_paginate,
    concurrent_writers_get_a_gap_free_audit_sequence,
    subjects_and_sensitive_details_are_stored_as_keyed_hashes,
);

async fn every_call_writes_exactly_one_audit_event(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let d = |a| draft(Some(&t), a);
    let r = store
        .create_record(
            &t,
            input("Patient", "subj-9", json!({"n": 1})),
            "w",
            d(Action::RecordCreate),
        )
        .await
        .unwrap();
    store
        .get_record(&t, r.id, d(Action::RecordRead))
        .await
        .unwrap();
    let _ = store
        .update_record(
            &t,
            r.id,
            9,
            input("Patient", "subj-9", json!({})),
            "w",
            d(Action::RecordUpdate),
        )
        .await;
    let _ = store
        .get_record(&t, RecordId::new(), d(Action::RecordRead))
        .await;
    store
        .list_records(&t, RecordFilter::default(), None, 10, d(Action::RecordList))
        .await
        .unwrap();
    store
        .record_history(&t, r.id, d(Action::RecordHistory))
        .await
        .unwrap();
    let events = log(&store, Some(&t)).await;
    let summary: Vec<(i64, &str, Outcome)> = events
        .iter()
        .map(|e| (e.seq, e.action.as_str(), e.outcome))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "record.create", Outcome::Success),
            (2, "record.read", Outcome::Success),
            (3, "record.update", Outcome::Error),
            (4, "record.read", Outcome::Error),
            (5, "record.list", Outcome::Success),
            (6, "record.history", Outcome::Success),
        ]
    );
    assert_eq!(
        events[1].resource_id.as_deref(),
        Some(r.id.to_string().as_str())
    );
    assert_eq!(events[1].details["version"], 1);
    assert_eq!(events[2].details["reason"], "version_conflict");
    assert_eq!(events[3].details["reason"], "not_found");
    assert_eq!(events[5].details["versions"], 1);
    assert_eq!(events[0].tenant.as_deref(), Some("clinic"));
}

async fn events_without_a_tenant_go_to_the_system_log(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let mut failed = AuditDraft::new(None, Actor::anonymous(), Action::AuthFailed, "r-1");
    failed.failed(Outcome::Denied, "unknown_key");
    store.append_audit(failed).await.unwrap();
    // An event naming a tenant that does not exist cannot go to that tenant's log.
    let ghost = AuditDraft::new(
        Some(tenant("ghost")),
        Actor::anonymous(),
        Action::AuthFailed,
        "r-2",
    );
    store.append_audit(ghost).await.unwrap();
    let tenant_event = AuditDraft::new(
        Some(t.clone()),
        Actor::anonymous(),
        Action::RecordRead,
        "r-3",
    );
    assert_eq!(store.append_audit(tenant_event).await.unwrap(), 1);
    let system = log(&store, None).await;
    let actions: Vec<&str> = system.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["tenant.create", "auth.failed", "auth.failed"]);
    assert_eq!(
        system.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(system[2].tenant.as_deref(), Some("ghost"));
    let own = log(&store, Some(&t)).await;
    assert_eq!(own.len(), 1);
}

async fn audit_queries_filter_and_paginate(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let d = |a| draft(Some(&t), a);
    for i in 0..7 {
        store
            .create_record(
                &t,
                input("Patient", &format!("s-{}", i % 2), json!({})),
                "w",
                d(Action::RecordCreate),
            )
            .await
            .unwrap();
    }
    let _ = store
        .get_record(&t, RecordId::new(), d(Action::RecordRead))
        .await;
    let q = |f: fn(&mut AuditQuery)| {
        let mut q = AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        };
        f(&mut q);
        q
    };
    let auditor = || draft(Some(&t), Action::AuditRead);
    let page = store
        .list_audit(
            &LogId::Tenant(t.clone()),
            q(|q| q.outcome = Some(Outcome::Error)),
            auditor(),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let page = store
        .list_audit(
            &LogId::Tenant(t.clone()),
            q(|q| q.action = Some("record.create".into())),
            auditor(),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 7);
    // Pages of 3 over the whole log: dense, ordered, nothing repeated.
    let (mut seqs, mut after) = (Vec::new(), None);
    loop {
        let query = AuditQuery {
            limit: 3,
            after_seq: after,
            ..AuditQuery::default()
        };
        let page = store
            .list_audit(&LogId::Tenant(t.clone()), query, auditor())
            .await
            .unwrap();
        seqs.extend(page.items.iter().map(|e| e.seq));
        match page.next_cursor {
            Some(c) => after = Some(hippo_core::cursor::decode(&c).unwrap().parse().unwrap()),
            None => break,
        }
    }
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert!(
        seqs.len() >= 10,
        "the audit reads themselves are in the log too"
    );
}

async fn concurrent_writers_get_a_gap_free_audit_sequence(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (store, t) = (store.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                store
                    .create_record(
                        &t,
                        input("Observation", &format!("w{w}"), json!({"i": i})),
                        "w",
                        draft(Some(&t), Action::RecordCreate),
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let events = log(&store, Some(&t)).await;
    assert_eq!(events.len(), 200);
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=200).collect::<Vec<_>>()
    );
    // However the commits interleaved, the tree holds every event once, in sequence order.
    let (size, root) = store.tree_state(&LogId::Tenant(t.clone())).await.unwrap();
    let leaves = store
        .audit_leaves(&LogId::Tenant(t.clone()), 0, 10_000)
        .await
        .unwrap();
    assert_eq!(size as usize, leaves.len());
    let hashes: Vec<_> = leaves.iter().map(|l| l.leaf_hash).collect();
    assert_eq!(merkle::root_from_leaf_hashes(&hashes), root);
}

async fn subjects_and_sensitive_details_are_stored_as_keyed_hashes(store: Arc<dyn Store>) {
    let t = with_tenant(&store, "clinic").await;
    let subject = "MRN-5550123";
    store
        .create_record(
            &t,
            input("Patient", subject, json!({})),
            "w",
            draft(Some(&t), Action::RecordCreate),
        )
        .await
        .unwrap();
    let mut search = draft(Some(&t), Action::RecordList);
    search.detail("query", "Jane Roe");
    store
        .list_records(
            &t,
            RecordFilter {
                subject: Some(subject.into()),
                ..RecordFilter::default()
            },
            None,
            10,
            search,
        )
        .await
        .unwrap();
    let leaves = store
        .audit_leaves(&LogId::Tenant(t.clone()), 0, 100)
        .await
        .unwrap();
    for l in &leaves {
        let text = String::from_utf8_lossy(&l.canonical);
        assert!(
            !text.contains(subject) && !text.contains("Jane Roe"),
            "{text}"
        );
    }
    let events = log(&store, Some(&t)).await;
    let listed = events
        .iter()
        .find(|e| e.action == Action::RecordList)
        .unwrap();
    assert!(listed.labels.iter().any(|l| l == "sensitive_content"));
    assert!(listed.details["query"]["hmac"].is_string());
    // Queries by subject hash it the same way, so the accounting of disclosures still works.
    let q = AuditQuery {
        subject_id: Some(subject.into()),
        limit: 100,
        ..AuditQuery::default()
    };
    let found = store
        .list_audit(&LogId::Tenant(t.clone()), q, draft(None, Action::AuditRead))
        .await
        .unwrap();
    assert_eq!(found.items.len(), 2, "the create and the search");
}
