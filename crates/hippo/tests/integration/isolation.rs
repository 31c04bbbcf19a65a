//! Tenant isolation: a key of one tenant cannot see or touch another tenant's records, and
//! gets exactly the answer it would get for an id that does not exist.

use super::*;
use reqwest::Method;

#[tokio::test]
async fn other_tenants_records_are_indistinguishable_from_missing_ones() {
    let s = server();
    s.create_tenant("clinic-b");
    let key_a = s.admin_key.clone();
    let key_b = s.create_key("clinic-b", "admin");
    let c = s.client();
    let rec_b = create(&s, &key_b, patient("b-patient")).await;
    let id_b = rec_b["id"].as_str().unwrap();
    let missing = hippo_core::RecordId::new().to_string();

    for id in [id_b, missing.as_str()] {
        let get = authed(&c, Method::GET, s.url(&format!("/v1/records/{id}")), &key_a)
            .send()
            .await
            .unwrap();
        let put = authed(&c, Method::PUT, s.url(&format!("/v1/records/{id}")), &key_a)
            .header("If-Match", "1")
            .json(&patient("x"))
            .send()
            .await
            .unwrap();
        let del = authed(
            &c,
            Method::DELETE,
            s.url(&format!("/v1/records/{id}")),
            &key_a,
        )
        .send()
        .await
        .unwrap();
        let hist = authed(
            &c,
            Method::GET,
            s.url(&format!("/v1/records/{id}/history")),
            &key_a,
        )
        .send()
        .await
        .unwrap();
        let ver = authed(
            &c,
            Method::GET,
            s.url(&format!("/v1/records/{id}/versions/1")),
            &key_a,
        )
        .send()
        .await
        .unwrap();
        for r in [get, put, del, hist, ver] {
            let p = expect_problem(r, 404, "not-found").await;
            assert_eq!(p["detail"], "no such record");
        }
    }
    let page = get_json(&s, &key_a, "/v1/records?subject=b-patient").await;
    assert!(page["items"].as_array().unwrap().is_empty());
    let page: Value = authed(&c, Method::GET, s.url("/v1/records"), &key_a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(page["items"].as_array().unwrap().is_empty());

    // Tenant B's record is untouched.
    let r: Value = authed(
        &c,
        Method::GET,
        s.url(&format!("/v1/records/{id_b}")),
        &key_b,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(r, rec_b);
    // And B's admin cannot manage A's keys.
    let a_keys = s.cli(&["apikey", "list", "--tenant", "default", "--json"]);
    let a_keys: Value = serde_json::from_slice(&a_keys.stdout).unwrap();
    let a_kid = a_keys[0]["key_id"].as_str().unwrap();
    let r = authed(
        &c,
        Method::DELETE,
        s.url(&format!("/v1/admin/apikeys/{a_kid}")),
        &key_b,
    )
    .send()
    .await
    .unwrap();
    expect_problem(r, 404, "not-found").await;
}
