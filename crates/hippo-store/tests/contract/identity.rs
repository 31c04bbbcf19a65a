//! People on both stores: users and memberships, second factors used once, sessions revoked
//! at once, and API keys that expire and rotate (clocks are passed in: no sleeping).

use super::*;
use hippo_store::identity::{
    session_id, Activation, Emergency, FactorUse, Membership, NewSession, NewUser, SessionStage,
    StoredPasskey, UserChange,
};
use hippo_store::KeyRotation;

contract!(
    users_belong_to_tenants_and_names_are_unique,
    totp_steps_and_recovery_codes_are_single_use,
    disabling_a_user_ends_their_sessions_at_once,
    confirming_totp_activates_the_enrolling_session,
    emergency_opens_only_on_active_sessions,
    api_keys_expire_and_rotate_with_an_overlap,
    passkeys_register_once_and_ceremonies_are_single_use,
);

fn new_user(name: &str, tenant: &TenantId, role: Role) -> NewUser {
    NewUser {
        username: name.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
        memberships: vec![Membership {
            tenant: tenant.clone(),
            role,
        }],
        created_by: "operator".into(),
    }
}

fn session(user: &str, tenant: &TenantId, stage: SessionStage, seed: u8, now: i64) -> NewSession {
    NewSession {
        token_hash: [seed; 32],
        user_id: user.into(),
        tenant: tenant.clone(),
        role: Role::Reader,
        stage,
        now_ms: now,
    }
}

async fn users_belong_to_tenants_and_names_are_unique(store: Arc<dyn Store>) {
    let a = with_tenant(&store, "clinic-a").await;
    let b = with_tenant(&store, "clinic-b").await;
    let u = store
        .create_user(
            new_user("nurse.joy", &a, Role::Reader),
            draft(Some(&a), Action::UserCreate),
        )
        .await
        .unwrap();
    assert_eq!(u.role_in(&a), Some(Role::Reader));
    assert_eq!(u.role_in(&b), None);
    assert!(!u.totp_enrolled);
    let dup = store
        .create_user(
            new_user("nurse.joy", &b, Role::Admin),
            draft(Some(&b), Action::UserCreate),
        )
        .await;
    assert!(matches!(dup, Err(StoreError::UserExists)), "{dup:?}");
    let ghost = store
        .create_user(
            new_user("x", &tenant("nowhere"), Role::Reader),
            draft(None, Action::UserCreate),
        )
        .await;
    assert!(
        matches!(ghost, Err(StoreError::TenantNotFound(_))),
        "{ghost:?}"
    );
    // The failed creation left no half-made user behind.
    let all = store
        .list_users(None, draft(None, Action::UserList))
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(),
        ["nurse.joy"]
    );
    let in_b = store
        .list_users(Some(&b), draft(Some(&b), Action::UserList))
        .await
        .unwrap();
    assert!(in_b.is_empty(), "tenant B sees none of tenant A's users");
    // An admin of B cannot touch A's user.
    let r = store
        .change_user(
            Some(&b),
            &u.id,
            UserChange::Disable,
            now(),
            draft(Some(&b), Action::UserDisable),
        )
        .await;
    assert!(matches!(r, Err(StoreError::UserNotFound(_))), "{r:?}");
    let login = store
        .user_for_login("nurse.joy")
        .await
        .unwrap()
        .expect("found");
    assert!(login.password_hash.starts_with("$argon2id$"));
    assert!(store.user_for_login("nobody").await.unwrap().is_none());
    let events = log(&store, None).await;
    assert!(events
        .iter()
        .any(|e| e.action == Action::UserCreate && e.outcome == Outcome::Success));
    assert!(events
        .iter()
        .any(|e| e.action == Action::UserCreate && e.outcome == Outcome::Error));
}

async fn totp_steps_and_recovery_codes_are_single_use(store: Arc<dyn Store>) {
    let a = with_tenant(&store, "clinic-a").await;
    let u = store
        .create_user(
            new_user("dr.who", &a, Role::Writer),
            draft(Some(&a), Action::UserCreate),
        )
        .await
        .unwrap();
    let secret = [3u8; 20];
    store.begin_totp(&u.id, &secret).await.unwrap();
    let login = store.user_for_login("dr.who").await.unwrap().unwrap();
    assert_eq!(
        login.totp_secret.as_deref().map(|s| s.as_slice()),
        Some(&secret[..]),
        "sealed and opened"
    );
    assert!(!login.totp_confirmed);
    // Unconfirmed: no step is usable yet.
    assert_eq!(
        store.use_totp_step(&u.id, 100).await.unwrap(),
        FactorUse::Replayed
    );
    let t = now();
    store
        .create_session(
            session(&u.id, &a, SessionStage::Enrol, 1, t),
            draft(Some(&a), Action::AuthLogin),
        )
        .await
        .unwrap();
    let codes = vec![[10u8; 32], [11u8; 32]];
    store
        .confirm_totp(
            &u.id,
            100,
            codes,
            &[1; 32],
            t,
            draft(Some(&a), Action::MfaEnrol),
        )
        .await
        .unwrap();
    // A second enrolment over a confirmed factor is refused.
    let again = store.begin_totp(&u.id, &[4u8; 20]).await;
    assert!(
        matches!(again, Err(StoreError::FactorState(_))),
        "{again:?}"
    );
    // The step used to confirm, and any older one, is spent; a newer one works once.
    assert_eq!(
        store.use_totp_step(&u.id, 100).await.unwrap(),
        FactorUse::Replayed
    );
    assert_eq!(
        store.use_totp_step(&u.id, 99).await.unwrap(),
        FactorUse::Replayed
    );
    assert_eq!(
        store.use_totp_step(&u.id, 101).await.unwrap(),
        FactorUse::Accepted
    );
    assert_eq!(
        store.use_totp_step(&u.id, 101).await.unwrap(),
        FactorUse::Replayed
    );
    assert_eq!(
        store.use_recovery_code(&u.id, &[10; 32], t).await.unwrap(),
        FactorUse::Accepted
    );
    assert_eq!(
        store.use_recovery_code(&u.id, &[10; 32], t).await.unwrap(),
        FactorUse::Replayed
    );
    assert_eq!(
        store.use_recovery_code(&u.id, &[12; 32], t).await.unwrap(),
        FactorUse::Replayed
    );
    let info = store
        .list_users(Some(&a), draft(Some(&a), Action::UserList))
        .await
        .unwrap();
    assert!(info[0].totp_enrolled);
    assert_eq!(info[0].recovery_codes_left, 1);
    // Resetting removes the factor and the codes.
    let reset = store
        .change_user(
            None,
            &u.id,
            UserChange::ResetMfa,
            t,
            draft(None, Action::UserResetMfa),
        )
        .await
        .unwrap();
    assert!(!reset.totp_enrolled);
    assert_eq!(reset.recovery_codes_left, 0);
    assert!(store
        .user_for_login("dr.who")
        .await
        .unwrap()
        .unwrap()
        .totp_secret
        .is_none());
}

async fn disabling_a_user_ends_their_sessions_at_once(store: Arc<dyn Store>) {
    let a = with_tenant(&store, "clinic-a").await;
    let u = store
        .create_user(
            new_user("clerk", &a, Role::Reader),
            draft(Some(&a), Action::UserCreate),
        )
        .await
        .unwrap();
    let t = now();
    for seed in [21u8, 22] {
        let row = store
            .create_session(
                session(&u.id, &a, SessionStage::Active, seed, t),
                draft(Some(&a), Action::AuthLogin),
            )
            .await
            .unwrap();
        assert_eq!(row.session_id, session_id(&[seed; 32]));
        assert_eq!(row.revoked_at_ms, None);
    }
    store.touch_session(&[21; 32], t + 5_000).await.unwrap();
    store.touch_session(&[21; 32], t + 1_000).await.unwrap();
    assert_eq!(
        store
            .session(&[21; 32])
            .await
            .unwrap()
            .unwrap()
            .last_seen_ms,
        t + 5_000,
        "last_seen never goes back"
    );
    store
        .revoke_session(&[22; 32], t + 6_000, draft(Some(&a), Action::AuthLogout))
        .await
        .unwrap();
    assert_eq!(
        store
            .session(&[22; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked_at_ms,
        Some(t + 6_000)
    );
    assert_eq!(
        store
            .session(&[21; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked_at_ms,
        None
    );
    let d = store
        .change_user(
            Some(&a),
            &u.id,
            UserChange::Disable,
            t + 7_000,
            draft(Some(&a), Action::UserDisable),
        )
        .await
        .unwrap();
    assert!(d.disabled_at_ms.is_some());
    let row = store.session(&[21; 32]).await.unwrap().unwrap();
    assert_eq!(row.revoked_at_ms, Some(t + 7_000));
    assert!(row.user_disabled);
    assert!(store.session(&[99; 32]).await.unwrap().is_none());
}

async fn confirming_totp_activates_the_enrolling_session(store: Arc<dyn Store>) {
    let a = with_tenant(&store, "clinic-a").await;
    let u = store
        .create_user(
            new_user("tech", &a, Role::Writer),
            draft(Some(&a), Action::UserCreate),
        )
        .await
        .unwrap();
    let t = now();
    store
        .create_session(
            session(&u.id, &a, SessionStage::Enrol, 31, t),
            draft(Some(&a), Action::AuthLogin),
        )
        .await
        .unwrap();
    // Confirming without a pending secret fails and changes nothing.
    let r = store
        .confirm_totp(
            &u.id,
            5,
            vec![],
            &[31; 32],
            t,
            draft(Some(&a), Action::MfaEnrol),
        )
        .await;
    assert!(matches!(r, Err(StoreError::FactorState(_))), "{r:?}");
    assert_eq!(
        store.session(&[31; 32]).await.unwrap().unwrap().stage,
        SessionStage::Enrol
    );
    store.begin_totp(&u.id, &[5u8; 20]).await.unwrap();
    // The enrolling session must still be open: a revoked one rolls the confirmation back.
    store
        .revoke_session(&[31; 32], t, draft(Some(&a), Action::AuthLogout))
        .await
        .unwrap();
    let r = store
        .confirm_totp(
            &u.id,
            5,
            vec![[1; 32]],
            &[31; 32],
            t,
            draft(Some(&a), Action::MfaEnrol),
        )
        .await;
    assert!(matches!(r, Err(StoreError::FactorState(_))), "{r:?}");
    assert!(
        !store
            .user_for_login("tech")
            .await
            .unwrap()
            .unwrap()
            .totp_confirmed,
        "rolled back"
    );
    store
        .create_session(
            session(&u.id, &a, SessionStage::Enrol, 32, t),
            draft(Some(&a), Action::AuthLogin),
        )
        .await
        .unwrap();
    store
        .confirm_totp(
            &u.id,
            5,
            vec![[1; 32]],
            &[32; 32],
            t,
            draft(Some(&a), Action::MfaEnrol),
        )
        .await
        .unwrap();
    assert_eq!(
        store.session(&[32; 32]).await.unwrap().unwrap().stage,
        SessionStage::Active
    );
    assert!(
        store
            .user_for_login("tech")
            .await
            .unwrap()
            .unwrap()
            .totp_confirmed
    );
}

async fn emergency_opens_only_on_active_sessions(store: Arc<dyn Store>) {
    let a = with_tenant(&store, "clinic-a").await;
    let u = store
        .create_user(
            new_user("er.doc", &a, Role::Reader),
            draft(Some(&a), Action::UserCreate),
        )
        .await
        .unwrap();
    let t = now();
    store
        .create_session(
            session(&u.id, &a, SessionStage::Mfa, 41, t),
            draft(Some(&a), Action::AuthLogin),
        )
        .await
        .unwrap();
    store
        .create_session(
            session(&u.id, &a, SessionStage::Active, 42, t),
            draft(Some(&a), Action::AuthLogin),
        )
        .await
        .unwrap();
    let e = Emergency {
        opened_at_ms: t,
        until_ms: t + 600_000,
        reason_len: 20,
    };
    let r = store
        .open_emergency(&[41; 32], e, draft(Some(&a), Action::BreakGlassOpen))
        .await;
    assert!(matches!(r, Err(StoreError::FactorState(_))), "{r:?}");
    let row = store
        .open_emergency(&[42; 32], e, draft(Some(&a), Action::BreakGlassOpen))
        .await
        .unwrap();
    assert_eq!(row.emergency, Some(e));
    let events = log(&store, None).await;
    let opened: Vec<Outcome> = events
        .iter()
        .filter(|ev| ev.action == Action::BreakGlassOpen)
        .map(|ev| ev.outcome)
        .collect();
    assert_eq!(
        opened,
        [Outcome::Error, Outcome::Success],
        "both attempts audited"
    );
}

async fn api_keys_expire_and_rotate_with_an_overlap(store: Arc<dyn Store>) {
    let a = with_tenant(&store, "clinic-a").await;
    let t = now();
    let minted = hippo_core::apikey::mint(&[8u8; hippo_core::apikey::RANDOM_BYTES]);
    let key = NewApiKey {
        tenant: a.clone(),
        role: Role::Reader,
        name: "lab feed".into(),
        minted: minted.clone(),
        created_by: "operator".into(),
        expires_at_ms: Some(t + 3_600_000),
    };
    store
        .create_api_key(key, draft(Some(&a), Action::ApiKeyCreate))
        .await
        .unwrap();
    let auth = |h: [u8; 32], id: String, at: i64| {
        let store = store.clone();
        async move { store.authenticate(&id, &h, at).await.unwrap().is_some() }
    };
    assert!(auth(minted.secret_hash, minted.key_id.clone(), t).await);
    assert!(auth(minted.secret_hash, minted.key_id.clone(), t + 3_599_999).await);
    assert!(
        !auth(minted.secret_hash, minted.key_id.clone(), t + 3_600_000).await,
        "expired"
    );

    store
        .note_api_key_use(&minted.key_id, t + 10)
        .await
        .unwrap();
    let next = hippo_core::apikey::mint(&[9u8; hippo_core::apikey::RANDOM_BYTES]);
    let rotation = KeyRotation {
        minted: next.clone(),
        overlap_ms: 60_000,
        expires_at_ms: None,
        now_ms: t,
        created_by: "operator".into(),
    };
    let b = with_tenant(&store, "clinic-b").await;
    let wrong_tenant = store
        .rotate_api_key(
            Some(&b),
            &minted.key_id,
            rotation.clone(),
            draft(Some(&b), Action::ApiKeyRotate),
        )
        .await;
    assert!(
        matches!(wrong_tenant, Err(StoreError::ApiKeyNotFound(_))),
        "{wrong_tenant:?}"
    );
    let new = store
        .rotate_api_key(
            Some(&a),
            &minted.key_id,
            rotation.clone(),
            draft(Some(&a), Action::ApiKeyRotate),
        )
        .await
        .unwrap();
    assert_eq!(new.key_id, next.key_id);
    assert_eq!(new.role, Role::Reader);
    assert!(
        auth(next.secret_hash, next.key_id.clone(), t + 10_000_000).await,
        "the new key has no expiry"
    );
    assert!(
        auth(minted.secret_hash, minted.key_id.clone(), t + 59_999).await,
        "old key works during the overlap"
    );
    assert!(
        !auth(minted.secret_hash, minted.key_id.clone(), t + 60_000).await,
        "and not after"
    );
    // A key already replaced cannot be rotated again (rotate the new one).
    let twice = store
        .rotate_api_key(
            None,
            &minted.key_id,
            rotation,
            draft(None, Action::ApiKeyRotate),
        )
        .await;
    assert!(
        matches!(twice, Err(StoreError::ApiKeyNotFound(_))),
        "{twice:?}"
    );
    let keys = store
        .list_api_keys(Some(&a), draft(Some(&a), Action::ApiKeyList))
        .await
        .unwrap();
    let old = keys.iter().find(|k| k.key_id == minted.key_id).unwrap();
    assert_eq!(old.replaced_by.as_deref(), Some(next.key_id.as_str()));
    assert_eq!(old.last_used_at_ms, Some(t + 10));
    assert_eq!(old.expires_at_ms, Some(t + 60_000));
}

async fn passkeys_register_once_and_ceremonies_are_single_use(store: Arc<dyn Store>) {
    let a = with_tenant(&store, "clinic-a").await;
    let u = store
        .create_user(
            new_user("pk.user", &a, Role::Reader),
            draft(Some(&a), Action::UserCreate),
        )
        .await
        .unwrap();
    let t = now();
    store
        .create_session(
            session(&u.id, &a, SessionStage::Enrol, 51, t),
            draft(Some(&a), Action::AuthLogin),
        )
        .await
        .unwrap();
    // A ceremony's state is taken once.
    store
        .put_ceremony(&[51; 32], "{\"challenge\":1}".into(), t + 300_000)
        .await
        .unwrap();
    assert_eq!(
        store.take_ceremony(&[51; 32]).await.unwrap(),
        Some(("{\"challenge\":1}".to_owned(), t + 300_000))
    );
    assert_eq!(store.take_ceremony(&[51; 32]).await.unwrap(), None);
    let pk = |id: &str| StoredPasskey {
        credential_id: id.into(),
        name: "laptop".into(),
        passkey: "{\"cred\":\"x\"}".into(),
        created_at_ms: t,
        last_used_at_ms: None,
    };
    let act = Activation {
        session: [51; 32],
        recovery_hashes: vec![[5; 32]],
    };
    store
        .add_passkey(
            &u.id,
            pk("cred-1"),
            Some(act),
            t,
            draft(Some(&a), Action::MfaEnrol),
        )
        .await
        .unwrap();
    assert_eq!(
        store.session(&[51; 32]).await.unwrap().unwrap().stage,
        SessionStage::Active
    );
    store
        .add_passkey(
            &u.id,
            pk("cred-2"),
            None,
            t + 1,
            draft(Some(&a), Action::MfaEnrol),
        )
        .await
        .unwrap();
    let dup = store
        .add_passkey(
            &u.id,
            pk("cred-2"),
            None,
            t + 2,
            draft(Some(&a), Action::MfaEnrol),
        )
        .await;
    assert!(matches!(dup, Err(StoreError::FactorState(_))), "{dup:?}");
    store
        .update_passkey("cred-1", "{\"cred\":\"y\"}".into(), t + 5)
        .await
        .unwrap();
    let keys = store.passkeys(&u.id).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        (keys[0].passkey.as_str(), keys[0].last_used_at_ms),
        ("{\"cred\":\"y\"}", Some(t + 5))
    );
    let info = store
        .list_users(Some(&a), draft(Some(&a), Action::UserList))
        .await
        .unwrap();
    assert_eq!((info[0].passkeys, info[0].recovery_codes_left), (2, 1));
    assert!(info[0].has_second_factor());
    let reset = store
        .change_user(
            None,
            &u.id,
            UserChange::ResetMfa,
            t,
            draft(None, Action::UserResetMfa),
        )
        .await
        .unwrap();
    assert_eq!(reset.passkeys, 0);
    assert!(store.passkeys(&u.id).await.unwrap().is_empty());
}
