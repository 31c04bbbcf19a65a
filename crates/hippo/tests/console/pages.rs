//! The pages people use, end to end in Chromium: an admin through every page, and the roles
//! that must not reach administration or record bodies.

use super::*;

/// The admin's day: sign-in with TOTP enrolment, search and open a record (versions, diff,
/// integrity), the audit browser with filters, the accounting of disclosures (page, CSV,
/// print), users, API keys (create, revoke) and the policy question; every page checked.
#[tokio::test]
async fn an_admin_works_through_every_page() {
    let Some(r) = rig(Options::default()).await else {
        return;
    };
    let (s, b) = (&r.s, &r.b);
    let ada = add_user(s, "ada", "admin").await;
    let id = create_record(s, "p-77").await;
    first_sign_in(&r, "ada", true).await;
    check_page(&r, "home").await;

    // Records: search by name (POSTed: the name is in no URL), open, versions, diff.
    b.goto(&s.url("/console/records")).await;
    check_page(&r, "records").await;
    fill(b, "#f-q", "Zoë").await;
    submit(b, "form[role=search]").await;
    assert!(b.url().await.ends_with("/console/records/search"));
    check_page(&r, "search-results").await;
    follow(b, &format!("a[href='/console/records/{id}']")).await;
    let src = b.source().await;
    assert!(src.contains("Integrity verified"), "integrity shown: {src}");
    assert!(src.contains(CANARY), "the admin may read the body");
    check_page(&r, "record").await;
    follow(b, "ol.versions a").await;
    let src = b.source().await;
    assert!(
        src.contains("/birthDate") && src.contains("added"),
        "the diff names the new field"
    );
    check_page(&r, "diff").await;

    // Audit: the reads above are in the trail, attributed to ada; filters narrow it.
    b.goto(&s.url(&format!("/console/audit?actor={ada}&action=record.read")))
        .await;
    let src = b.source().await;
    assert!(
        src.contains("record.read") && src.contains(&id),
        "her read is listed"
    );
    assert!(!src.contains(CANARY), "audit pages show no bodies");
    check_page(&r, "audit-events").await;
    b.goto(&s.url("/console/audit?outcome=denied&actor=nobody"))
        .await;
    assert!(b.source().await.contains("No events match"));

    // Accounting of disclosures: page, CSV, printable.
    b.goto(&s.url("/console/audit/disclosures?subject=p-77"))
        .await;
    let src = b.source().await;
    assert!(
        src.contains(&ada) && src.contains("record.read"),
        "ada's read is accounted for"
    );
    check_page(&r, "disclosures").await;
    let cookie = b.cookie("hippo_session").await.unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let csv = s
        .client()
        .get(s.url("/console/audit/disclosures.csv?subject=p-77"))
        .header("cookie", format!("hippo_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("disclosures-p-77.csv"));
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("time,action,actor_id"), "{text}");
    assert!(text
        .lines()
        .any(|l| l.contains(&ada) && l.contains("record.read") && l.contains(&id)));
    b.goto(&s.url("/console/audit/disclosures/print?subject=p-77"))
        .await;
    assert!(b.source().await.contains(&ada));
    check_page(&r, "disclosures-print").await;

    // Break-glass review: an elevation opened by a writer awaits review; the review is recorded.
    let bo = add_user(s, "bo", "writer").await;
    open_break_glass(s, "bo").await;
    b.goto(&s.url("/console/audit/break-glass")).await;
    let src = b.source().await;
    assert!(
        src.contains("Awaiting review (1)") && src.contains(&bo),
        "{src}"
    );
    check_page(&r, "break-glass-pending").await;
    let form = "form[action^='/console/audit/break-glass/']";
    fill(
        b,
        &format!("{form} input[name=note]"),
        "confirmed with the ward",
    )
    .await;
    submit(b, form).await;
    assert!(b.wait("table").await);
    let src = b.source().await;
    assert!(
        src.contains("Awaiting review (0)") && src.contains("justified"),
        "{src}"
    );
    assert!(src.contains(&ada), "the reviewer is named");
    check_page(&r, "break-glass-review").await;
    // The review is an audit event of its own.
    b.goto(&s.url(&format!(
        "/console/audit?action=breakglass.review&actor={ada}"
    )))
    .await;
    assert!(b.source().await.contains("breakglass.review"));

    // Tamper evidence: sign a tree head, then run the verifier from the page.
    b.goto(&s.url("/console/audit/ledger")).await;
    submit(b, "form[action='/console/audit/ledger/sign']").await;
    assert!(b.source().await.contains("Latest signed tree head"));
    submit(b, "form[action='/console/audit/ledger/verify']").await;
    let report = b.find("#verify-report").await.text().await;
    assert!(
        report.contains("Verified") && report.contains("events checked"),
        "{report}"
    );
    check_page(&r, "tamper-evidence").await;

    // Users: disabling one (after the confirmation) ends their access at once.
    b.goto(&s.url("/console/admin/users")).await;
    check_page(&r, "users").await;
    b.mark_page().await;
    b.find(&format!(
        "form[action='/console/admin/users/{bo}/disable'] button"
    ))
    .await
    .click()
    .await;
    b.accept_alert().await;
    b.wait_new_page().await;
    assert!(
        b.source().await.contains("disabled"),
        "bo is shown disabled"
    );
    let r2 = s
        .client()
        .post(s.url("/v1/auth/login"))
        .json(&json!({"username": "bo", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r2.status(), 401, "a disabled user cannot sign in");

    // API keys: create one with an expiry, use it, revoke it in the console, see it refused.
    b.goto(&s.url("/console/admin/keys")).await;
    fill(b, "#k-name", "lab feed").await;
    submit(b, "form[action='/console/admin/keys']").await;
    let token = b.find("#new-key").await.text().await;
    assert!(token.starts_with("hpk_"));
    check_page(&r, "api-keys").await;
    let used = s
        .client()
        .get(s.url("/v1/records"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);
    let key_id = b.find("div.ok code").await.text().await;
    let revoke = format!("form[action='/console/admin/keys/{key_id}/revoke']");
    if b.count(&revoke).await == 0 {
        panic!("no revoke button for {key_id}: {}", b.source().await);
    }
    // The script asks for confirmation first (a revocation cannot be undone).
    b.mark_page().await;
    b.find(&format!("{revoke} button")).await.click().await;
    b.accept_alert().await;
    b.wait_new_page().await;
    assert!(
        b.source().await.contains("revoked"),
        "the list shows the key revoked"
    );
    assert!(b.url().await.ends_with("/console/admin/keys"));
    let refused = s
        .client()
        .get(s.url("/v1/records"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401, "a revoked key is refused at once");

    // Policy.
    b.goto(&s.url("/console/admin/policy")).await;
    submit(b, "main form").await;
    assert!(b
        .find("#policy-answer")
        .await
        .text()
        .await
        .contains("Allowed"));
    check_page(&r, "policy").await;

    // Tenants: her memberships (the current one marked) and the tenant's people and keys.
    b.goto(&s.url("/console/tenants")).await;
    let src = b.source().await;
    assert!(
        src.contains("Your tenants") && src.contains("Current") && src.contains("default"),
        "{src}"
    );
    assert!(src.contains("still to enrol a second factor"), "{src}");
    check_page(&r, "tenants").await;

    // Sign out: the session ends; the console sends the browser to sign in again.
    follow(b, "header form button").await;
    assert!(
        b.wait("#username").await,
        "the sign-in page follows sign-out"
    );
    assert!(b.url().await.contains("/console/signin"));
    b.goto(&s.url("/console/records")).await;
    assert!(b.url().await.contains("/console/signin"));
    r.b.quit().await;
}

/// A reader cannot reach the administration pages; an auditor sees the trail but never a
/// record's body, in the console as through the API.
#[tokio::test]
async fn a_reader_cannot_administer_and_an_auditor_never_sees_a_body() {
    let Some(r) = rig(Options::default()).await else {
        return;
    };
    let (s, b) = (&r.s, &r.b);
    add_user(s, "rey", "reader").await;
    add_user(s, "aud", "auditor").await;
    let id = create_record(s, "p-78").await;

    first_sign_in(&r, "rey", false).await;
    for page in [
        "/console/admin/users",
        "/console/admin/keys",
        "/console/admin/policy",
    ] {
        b.goto(&s.url(page)).await;
        let src = b.source().await;
        assert!(src.contains("Not allowed"), "{page}: {src}");
        assert!(
            !src.contains("Invite a user") && !src.contains("Create a key"),
            "{page}"
        );
    }
    check_page(&r, "not-allowed").await;
    let status = s
        .client()
        .get(s.url("/console/admin/users"))
        .header(
            "cookie",
            format!(
                "hippo_session={}",
                b.cookie("hippo_session").await.unwrap()["value"]
                    .as_str()
                    .unwrap()
            ),
        )
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);
    // A reader has no tenant administration, only their own memberships.
    b.goto(&s.url("/console/tenants")).await;
    let src = b.source().await;
    assert!(
        src.contains("Your tenants") && !src.contains("API keys</dt>"),
        "{src}"
    );
    // Sign out everywhere: every session of the reader ends, and the trail says so.
    let old_cookie = b.cookie("hippo_session").await.unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    follow(b, "#signout-everywhere").await;
    assert!(
        b.wait("#username").await,
        "the sign-in page follows sign-out"
    );
    let after = s
        .client()
        .get(s.url("/v1/auth/session"))
        .bearer_auth(&old_cookie)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(after, 401, "the session ended");
    let trail = api(
        s,
        reqwest::Method::GET,
        "/v1/audit?log=access&action=auth.logout",
        None,
    )
    .await;
    assert!(
        trail["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["details"]["everywhere"] == json!(true)),
        "{trail}"
    );

    first_sign_in(&r, "aud", false).await;
    assert_eq!(
        b.count("a[href='/console/records']").await,
        0,
        "no Records link for an auditor"
    );
    b.goto(&s.url(&format!("/console/records/{id}"))).await;
    let src = b.source().await;
    assert!(src.contains("Not allowed"), "{src}");
    assert!(!src.contains(CANARY), "an auditor never sees a body");
    b.goto(&s.url("/console/audit")).await;
    let src = b.source().await;
    assert!(src.contains("record.create"), "the auditor sees the trail");
    assert!(!src.contains(CANARY), "the trail carries no bodies");
    b.goto(&s.url("/console/audit/disclosures?subject=p-78"))
        .await;
    assert!(!b.source().await.contains(CANARY));
    r.b.quit().await;
}
