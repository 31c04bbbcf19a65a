//! Tenants, API keys and job locks: unique tenants, nothing written for an unknown tenant,
//! keys that authenticate until revoked, and locks that exclude other holders.

use super::*;

contract!(
    tenants_are_unique_and_listed,
    unknown_tenants_are_refused_before_anything_is_written,
    api_keys_authenticate_and_revoke,
    job_locks_exclude_other_holders_until_released,
);

async fn tenants_are_unique_and_listed(store: Arc<dyn Store>) {
    with_tenant(&store, "zeta").await;
    with_tenant(&store, "alpha").await;
    let again = store
        .create_tenant(&tenant("alpha"), draft(None, Action::TenantCreate))
        .await;
    assert!(
        matches!(again, Err(StoreError::TenantExists(_))),
        "{again:?}"
    );
    let names: Vec<String> = store
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id.to_string())
        .collect();
    assert_eq!(names, vec!["alpha", "zeta"]);
}

async fn unknown_tenants_are_refused_before_anything_is_written(store: Arc<dyn Store>) {
    let ghost = tenant("ghost");
    let r = store
        .create_record(
            &ghost,
            input("Patient", "p", json!({})),
            "a",
            draft(Some(&ghost), Action::RecordCreate),
        )
        .await;
    assert!(matches!(r, Err(StoreError::TenantNotFound(_))), "{r:?}");
    let r = store
        .get_record(
            &ghost,
            RecordId::new(),
            draft(Some(&ghost), Action::RecordRead),
        )
        .await;
    assert!(matches!(r, Err(StoreError::TenantNotFound(_))), "{r:?}");
    let key = NewApiKey {
        tenant: ghost.clone(),
        role: Role::Admin,
        name: "x".into(),
        minted: hippo_core::apikey::mint(&[1u8; hippo_core::apikey::RANDOM_BYTES]),
        created_by: "operator".into(),
        expires_at_ms: None,
    };
    let r = store
        .create_api_key(key, draft(Some(&ghost), Action::ApiKeyCreate))
        .await;
    assert!(matches!(r, Err(StoreError::TenantNotFound(_))), "{r:?}");
}

async fn api_keys_authenticate_and_revoke(store: Arc<dyn Store>) {
    let a = with_tenant(&store, "clinic-a").await;
    let b = with_tenant(&store, "clinic-b").await;
    let minted = hippo_core::apikey::mint(&[7u8; hippo_core::apikey::RANDOM_BYTES]);
    let key = NewApiKey {
        tenant: a.clone(),
        role: Role::Writer,
        name: "etl".into(),
        minted: minted.clone(),
        created_by: "operator".into(),
        expires_at_ms: None,
    };
    let info = store
        .create_api_key(key, draft(Some(&a), Action::ApiKeyCreate))
        .await
        .unwrap();
    let p = store
        .authenticate(&minted.key_id, &minted.secret_hash, now())
        .await
        .unwrap()
        .expect("the key authenticates");
    assert_eq!(
        (p.tenant.clone(), p.role, p.id.clone()),
        (a.clone(), Role::Writer, info.principal_id.clone())
    );
    let mut wrong = minted.secret_hash;
    wrong[0] ^= 1;
    assert!(store
        .authenticate(&minted.key_id, &wrong, now())
        .await
        .unwrap()
        .is_none());
    assert!(store
        .authenticate("0000000000000000", &minted.secret_hash, now())
        .await
        .unwrap()
        .is_none());

    let listed = store
        .list_api_keys(Some(&a), draft(Some(&a), Action::ApiKeyList))
        .await
        .unwrap();
    assert_eq!(listed, vec![info.clone()]);
    assert!(store
        .list_api_keys(Some(&b), draft(Some(&b), Action::ApiKeyList))
        .await
        .unwrap()
        .is_empty());
    let r = store
        .revoke_api_key(
            Some(&b),
            &minted.key_id,
            draft(Some(&b), Action::ApiKeyRevoke),
        )
        .await;
    assert!(matches!(r, Err(StoreError::ApiKeyNotFound(_))), "{r:?}");
    let revoked = store
        .revoke_api_key(None, &minted.key_id, draft(None, Action::ApiKeyRevoke))
        .await
        .unwrap();
    assert!(revoked.revoked_at_ms.is_some());
    assert!(store
        .authenticate(&minted.key_id, &minted.secret_hash, now())
        .await
        .unwrap()
        .is_none());
    // Access changes are audited in the system log, tagged with their tenant.
    let system = log(&store, None).await;
    let actions: Vec<(&str, Option<&str>, Outcome)> = system
        .iter()
        .filter(|e| e.resource_type == "apikey")
        .map(|e| (e.action.as_str(), e.tenant.as_deref(), e.outcome))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("apikey.create", Some("clinic-a"), Outcome::Success),
            ("apikey.list", Some("clinic-a"), Outcome::Success),
            ("apikey.list", Some("clinic-b"), Outcome::Success),
            ("apikey.revoke", Some("clinic-b"), Outcome::Error),
            ("apikey.revoke", None, Outcome::Success),
        ]
    );
}

async fn job_locks_exclude_other_holders_until_released(store: Arc<dyn Store>) {
    let held = store.try_exclusive("audit-export-default").await.unwrap();
    assert!(held.is_some(), "a free lock is taken");
    assert!(
        store
            .try_exclusive("audit-export-default")
            .await
            .unwrap()
            .is_none(),
        "a held lock is refused to a second holder"
    );
    let other = store.try_exclusive("audit-export-system").await.unwrap();
    assert!(other.is_some(), "locks of other names are independent");
    drop(held);
    let again = store.try_exclusive("audit-export-default").await.unwrap();
    assert!(again.is_some(), "a released lock can be taken again");
}
