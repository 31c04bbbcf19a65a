//! Search on both stores: indexed in the same commit as the write, phrases, prefixes,
//! booleans, folding, filters, stable pagination, deleted records gone, tenants apart, and an
//! audit event that names result ids and never holds the query in plaintext.

use super::*;
use hippo_store::search::{parse_cursor, SearchRequest};
use hippo_store::BatchItem;

contract!(
    search_finds_what_was_written_and_nothing_else,
    a_query_matching_more_than_the_ranking_budget_ranks_the_newest_matches,
    a_word_too_rare_for_the_newest_part_of_a_large_index_is_still_found_in_full,
    fuzzy_terms_find_names_spelled_alike_within_the_tenant,
);

fn req(q: &str) -> SearchRequest {
    SearchRequest::new(
        hippo_search::parse(q, hippo_search::Limits::default()).unwrap(),
        100,
    )
}

async fn ids(store: &Arc<dyn Store>, t: &TenantId, r: SearchRequest) -> Vec<String> {
    let mut d = draft(Some(t), Action::RecordSearch);
    d.detail("q", "the query text");
    store
        .search_records(t, r, d)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|(r, _)| r.id.to_string())
        .collect()
}

async fn search_finds_what_was_written_and_nothing_else(store: Arc<dyn Store>) {
    let a = with_tenant(&store, "clinic-a").await;
    let b = with_tenant(&store, "clinic-b").await;
    let mk = |kind: &str, subject: &str, body: serde_json::Value| input(kind, subject, body);
    let create = |t: TenantId, i: RecordInput| {
        let store = store.clone();
        async move {
            store
                .create_record(&t, i, "tester", draft(Some(&t), Action::RecordCreate))
                .await
                .unwrap()
                .id
                .to_string()
        }
    };
    let muller = create(
        a.clone(),
        mk("Patient", "p1", json!({"name": "Jürgen Müller"})),
    )
    .await;
    let smith = create(
        a.clone(),
        mk("Patient", "p2", json!({"name": "Anna Smithson"})),
    )
    .await;
    let note = create(
        a.clone(),
        mk(
            "ClinicalNote",
            "p1",
            json!({"text": "Patient reports chest pain at night"}),
        ),
    )
    .await;
    let other = create(
        a.clone(),
        mk(
            "ClinicalNote",
            "p2",
            json!({"text": "pain in the chest, mild"}),
        ),
    )
    .await;
    let foreign = create(
        b.clone(),
        mk("Patient", "p1", json!({"name": "Jürgen Müller"})),
    )
    .await;

    // Folding: case and accents do not matter.
    assert_eq!(
        ids(&store, &a, req("MULLER")).await,
        std::slice::from_ref(&muller)
    );
    assert_eq!(
        ids(&store, &a, req("jurgen müller")).await,
        std::slice::from_ref(&muller)
    );
    // Prefix.
    assert_eq!(
        ids(&store, &a, req("smith*")).await,
        std::slice::from_ref(&smith)
    );
    // Phrase: adjacent and in order only.
    assert_eq!(
        ids(&store, &a, req("\"chest pain\"")).await,
        std::slice::from_ref(&note)
    );
    let mut both = ids(&store, &a, req("chest pain")).await;
    both.sort();
    let mut want = vec![note.clone(), other.clone()];
    want.sort();
    assert_eq!(both, want);
    // Booleans.
    assert_eq!(
        ids(&store, &a, req("chest NOT night")).await,
        std::slice::from_ref(&other)
    );
    let mut either = ids(&store, &a, req("smithson OR night")).await;
    either.sort();
    let mut want = vec![smith.clone(), note.clone()];
    want.sort();
    assert_eq!(either, want);
    // Filters.
    let mut r = req("pain OR muller");
    r.record_type = Some("ClinicalNote".into());
    r.subject = Some("p1".into());
    assert_eq!(ids(&store, &a, r).await, std::slice::from_ref(&note));
    let mut r = req("chest");
    r.label = Some("intake".into());
    assert_eq!(ids(&store, &a, r.clone()).await.len(), 2);
    r.label = Some("nope".into());
    assert!(ids(&store, &a, r).await.is_empty());
    // Tenants apart: tenant B's identical record is never returned or counted in A.
    assert!(!ids(&store, &a, req("muller")).await.contains(&foreign));
    assert_eq!(
        ids(&store, &b, req("muller")).await,
        std::slice::from_ref(&foreign)
    );

    // Pagination: pages of one, in a stable order, covering everything once.
    let mut seen = Vec::new();
    let mut r = req("chest OR muller OR smithson");
    r.limit = 1;
    loop {
        let page = store
            .search_records(&a, r.clone(), draft(Some(&a), Action::RecordSearch))
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|(r, _)| r.id.to_string()));
        match page.next_cursor {
            Some(c) => r.after = Some(parse_cursor(&c).unwrap()),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!((seen.len(), sorted.len()), (4, 4), "{seen:?}");

    // An update re-indexes; a delete removes from the index.
    let id: RecordId = muller.parse().unwrap();
    store
        .update_record(
            &a,
            id,
            1,
            mk("Patient", "p1", json!({"name": "Jürgen Meyer"})),
            "t",
            draft(Some(&a), Action::RecordUpdate),
        )
        .await
        .unwrap();
    assert!(ids(&store, &a, req("muller")).await.is_empty());
    assert_eq!(
        ids(&store, &a, req("meyer")).await,
        std::slice::from_ref(&muller)
    );
    store
        .delete_record(&a, id, None, "t", draft(Some(&a), Action::RecordDelete))
        .await
        .unwrap();
    assert!(ids(&store, &a, req("meyer")).await.is_empty());

    // The audit event names result ids and holds the query only as a keyed hash.
    let events = log(&store, Some(&a)).await;
    let searches: Vec<_> = events
        .iter()
        .filter(|e| e.action == Action::RecordSearch)
        .collect();
    assert!(!searches.is_empty());
    let text = serde_json::to_string(&searches).unwrap();
    assert!(!text.contains("the query text"), "{text}");
    assert!(searches
        .iter()
        .any(|e| e.details["result_ids"] == json!(std::slice::from_ref(&note))));
}

async fn a_query_matching_more_than_the_ranking_budget_ranks_the_newest_matches(
    store: Arc<dyn Store>,
) {
    let t = with_tenant(&store, "clinic-budget").await;
    let mut made = Vec::new();
    for i in 0..6 {
        // The older records mention the word more often, so by relevance alone they would win.
        let text = "asthma ".repeat(6 - i);
        let r = store
            .create_record(
                &t,
                input("ClinicalNote", "p1", json!({ "text": text })),
                "t",
                draft(Some(&t), Action::RecordCreate),
            )
            .await
            .unwrap();
        made.push(r.id.to_string());
    }
    let all = ids(&store, &t, req("asthma")).await;
    assert_eq!(all, made, "ranked by relevance when every match is ranked");
    for filtered in [false, true] {
        let mut r = req("asthma");
        r.rank_candidates = 3;
        if filtered {
            r.record_type = Some("ClinicalNote".into());
        }
        let mut got = ids(&store, &t, r).await;
        got.sort();
        let mut newest = made[3..].to_vec();
        newest.sort();
        assert_eq!(got, newest, "filtered: {filtered}");
    }
}

/// The ranking budget takes the newest matches wherever they lie, however much else was indexed
/// between them: a store that searched only the newest part of its index, to read fewer rows,
/// must fall back to the whole index when that part holds fewer matches than the budget.
async fn a_word_too_rare_for_the_newest_part_of_a_large_index_is_still_found_in_full(
    store: Arc<dyn Store>,
) {
    let t = with_tenant(&store, "clinic-window").await;
    let note = |text: String| BatchItem {
        input: input("ClinicalNote", "p1", json!({ "text": text })),
        idempotency_key: None,
    };
    let write = |items: Vec<BatchItem>| {
        let (store, t) = (store.clone(), t.clone());
        async move {
            store
                .create_records(&t, items, "t", draft(Some(&t), Action::RecordCreate))
                .await
                .unwrap()
                .iter()
                .map(|o| o.id().to_string())
                .collect::<Vec<_>>()
        }
    };
    // Two old matches, more relevant than the newest; then 150 unrelated notes; then the newest
    // match.
    let old = write(vec![note("zebra ".repeat(5)), note("zebra ".repeat(4))]).await;
    write((0..150).map(|i| note(format!("filler {i}"))).collect()).await;
    let newest = write(vec![note("zebra".into())]).await;
    let ranked = |budget: usize| {
        let mut r = req("zebra");
        r.rank_candidates = budget;
        ids(&store, &t, r)
    };
    assert_eq!(ranked(1).await, newest, "one candidate: the newest match");
    assert_eq!(
        ranked(2).await,
        [old[1].clone(), newest[0].clone()],
        "two candidates: the newest two, by relevance"
    );
    assert_eq!(
        ranked(100).await,
        [old[0].clone(), old[1].clone(), newest[0].clone()],
        "all three, by relevance"
    );
}

async fn fuzzy_terms_find_names_spelled_alike_within_the_tenant(store: Arc<dyn Store>) {
    let a = with_tenant(&store, "clinic-fuzzy-a").await;
    let b = with_tenant(&store, "clinic-fuzzy-b").await;
    let patient = |t: &TenantId, name: &str| {
        let (store, t, name) = (store.clone(), t.clone(), name.to_string());
        async move {
            store
                .create_record(
                    &t,
                    input("Patient", "p", json!({ "name": name })),
                    "t",
                    draft(Some(&t), Action::RecordCreate),
                )
                .await
                .unwrap()
                .id
                .to_string()
        }
    };
    let smith = patient(&a, "John Smith").await;
    let smyth = patient(&a, "Jane Smyth").await;
    let garcia = patient(&a, "Ana García").await;
    // A word only in another tenant, and one only in a note's free text (not key text).
    patient(&b, "Smithe Other").await;
    store
        .create_record(
            &a,
            input("ClinicalNote", "p", json!({ "text": "smithy visited" })),
            "t",
            draft(Some(&a), Action::RecordCreate),
        )
        .await
        .unwrap();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        ids(&store, &a, req("smith")).await,
        std::slice::from_ref(&smith)
    );
    assert_eq!(
        sorted(ids(&store, &a, req("smith~")).await),
        sorted(vec![smith.clone(), smyth.clone()])
    );
    assert_eq!(ids(&store, &a, req("garsia~")).await, [garcia]);
    assert_eq!(ids(&store, &a, req("smyth~ NOT jane")).await, [smith]);
    assert!(ids(&store, &a, req("zzyzx~")).await.is_empty());
    assert!(ids(&store, &b, req("garcia~")).await.is_empty());
}
