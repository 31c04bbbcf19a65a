//! A person's own sessions and tenants: "sign out everywhere" ends every session of the person
//! (and only theirs) in one audited step, and `GET /v1/auth/tenants` lists the tenants they
//! belong to with the current one marked.

use super::people::{add_user, first_sign_in, post};
use super::*;
use reqwest::Method;

const PASSWORD: &str = "violet tractor harbour 1987 quietly";

async fn session_status(s: &TestServer, token: &str) -> u16 {
    authed(&s.client(), Method::GET, s.url("/v1/auth/session"), token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_of_the_person_and_no_one_else() {
    let s = server();
    let me_id = add_user(&s, "ward.clerk", "reader").await;
    add_user(&s, "night.nurse", "reader").await;
    let laptop = first_sign_in(&s, "ward.clerk").await;
    let colleague = first_sign_in(&s, "night.nurse").await;
    // A second device: password, then a recovery code as the second factor.
    let r = post(
        &s,
        "/v1/auth/login",
        None,
        json!({"username": "ward.clerk", "password": PASSWORD}),
    )
    .await;
    let pending = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = post(
        &s,
        "/v1/auth/mfa",
        Some(&pending),
        json!({"code": laptop.recovery[0]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let phone = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for t in [&laptop.token, &phone, &colleague.token] {
        assert_eq!(session_status(&s, t).await, 200);
    }

    // A bad value is a clear 400 and ends nothing.
    let r = post(
        &s,
        "/v1/auth/logout?everywhere=yes",
        Some(&phone),
        json!({}),
    )
    .await;
    expect_problem(r, 400, "invalid-parameter").await;
    assert_eq!(session_status(&s, &phone).await, 200);

    let r = post(
        &s,
        "/v1/auth/logout?everywhere=true",
        Some(&phone),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(session_status(&s, &phone).await, 401);
    assert_eq!(
        session_status(&s, &laptop.token).await,
        401,
        "the other device's session ended too"
    );
    assert_eq!(
        session_status(&s, &colleague.token).await,
        200,
        "another person's session is untouched"
    );

    // One audited event says who ended their sessions everywhere.
    let events = audit_events(&s, "auth.logout").await;
    let mine: Vec<&Value> = events
        .iter()
        .filter(|e| e["details"]["everywhere"] == json!(true))
        .collect();
    assert_eq!(mine.len(), 1, "{events:?}");
    assert_eq!(mine[0]["actor_id"], me_id);
    assert_eq!(mine[0]["outcome"], "success");
}

#[tokio::test]
async fn a_person_sees_their_tenants_and_an_api_key_is_told_it_has_none() {
    let s = server();
    add_user(&s, "locum.gp", "writer").await;
    let me = first_sign_in(&s, "locum.gp").await;
    let r = authed(
        &s.client(),
        Method::GET,
        s.url("/v1/auth/tenants"),
        &me.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["items"],
        json!([{"tenant": "default", "role": "writer", "current": true}])
    );
    // An API key is not a person: the route says so instead of guessing.
    let r = authed(
        &s.client(),
        Method::GET,
        s.url("/v1/auth/tenants"),
        &s.admin_key,
    )
    .send()
    .await
    .unwrap();
    expect_problem(r, 401, "sign-in-step").await;
}

/// The access log's events of one action (sign-ins and sign-outs live there), as an admin
/// reads them.
async fn audit_events(s: &TestServer, action: &str) -> Vec<Value> {
    let r = authed(
        &s.client(),
        Method::GET,
        s.url(&format!("/v1/audit?log=access&action={action}&limit=100")),
        &s.admin_key,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .clone()
}
