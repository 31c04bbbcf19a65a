//! Sessions in the browser: the idle timeout's warning and end, and passkeys added in the
//! console and used to sign in (Chromium's virtual authenticator).

use super::*;

/// The session's idle timeout shows in the page, a warning comes before it, and when it passes
/// the browser is sent to sign in again (and the server refuses the old session).
#[tokio::test]
async fn an_idle_session_warns_then_ends() {
    let options = Options::default().env("HIPPO_AUTH__SESSION_IDLE_SECS", "60");
    let Some(r) = rig(options).await else { return };
    let (s, b) = (&r.s, &r.b);
    add_user(s, "ida", "auditor").await;
    first_sign_in(&r, "ida", false).await;
    let cookie = b.cookie("hippo_session").await.unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(b.find("#idle-at").await.text().await.ends_with('Z'));
    // With a 60 s idle timeout the warning is due at once (it shows in the last minute).
    let mut shown = false;
    for _ in 0..20 {
        if b.exec(
            "return !document.getElementById('timeout-warning').hidden",
            json!([]),
        )
        .await
            == true
        {
            shown = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(shown, "the warning shows before the session ends");
    check_page(&r, "timeout-warning").await;
    // Waiting, not timing: the page leaves by itself once the idle time has passed.
    let mut left = false;
    for _ in 0..90 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        if b.url().await.contains("/console/signin?ended=1") {
            left = true;
            break;
        }
    }
    assert!(left, "the page went to sign-in when the session ended");
    assert!(b.source().await.contains("Your session has ended"));
    let after = s
        .client()
        .get(s.url("/v1/auth/session"))
        .header("cookie", format!("hippo_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "the server ended the session too");
    r.b.quit().await;
}

/// A passkey added in the console signs the person in as the second factor, in a real browser
/// with Chromium's virtual authenticator (WebDriver's WebAuthn extension). WebAuthn needs the
/// origin the server is configured with, so the browser reaches the server through a relay on a
/// port chosen before the server starts, as `https://localhost:<port>`.
#[tokio::test]
async fn a_passkey_added_in_the_console_signs_in() {
    if !webdriver::available() {
        eprintln!("skipped: chromium and chromium-driver are not installed");
        return;
    }
    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = relay.local_addr().unwrap().port();
    let origin = format!("https://localhost:{port}");
    let s = TestServer::start_with(
        BIN,
        Options::default().env("HIPPO_AUTH__WEBAUTHN_ORIGIN", &origin),
    );
    let target = s.base_url.trim_start_matches("https://").to_owned();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = relay.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    let b = Browser::start(&server_spki(&s)).await;
    b.post(
        "/webauthn/authenticator",
        json!({"protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
               "hasUserVerification": true, "isUserVerified": true}),
    )
    .await;
    add_user(&s, "pat", "writer").await;
    let url = |p: &str| format!("{origin}{p}");

    // First sign-in (TOTP enrolment), then add a passkey from the home page.
    b.goto(&url("/console/signin")).await;
    fill(&b, "#username", "pat").await;
    fill(&b, "#password", PASSWORD).await;
    submit(&b, "form").await;
    let key = b.find("code.secret").await.text().await;
    let secret = totp::decode_base32(&key).unwrap();
    fill(
        &b,
        "#code",
        &totp::code_at_step(&secret, now_step()).unwrap(),
    )
    .await;
    submit(&b, "form").await;
    follow(&b, "a.button").await;
    b.find("#add-passkey").await.click().await;
    let mut added = String::new();
    for _ in 0..100 {
        added = b.find("#passkey-status").await.text().await;
        if added.starts_with("Passkey added") || added.starts_with("No passkey") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(added.starts_with("Passkey added"), "{added}");

    // Sign out; sign in with the password and the passkey instead of a code.
    follow(&b, "header form button").await;
    fill(&b, "#username", "pat").await;
    fill(&b, "#password", PASSWORD).await;
    submit(&b, "form").await;
    b.find("#passkey-signin").await.click().await;
    let mut home = false;
    for _ in 0..100 {
        if b.url().await == url("/console") {
            home = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(home, "{}", b.source().await);
    assert!(b.wait("#add-passkey").await);
    assert!(b.source().await.contains("writer"), "signed in as pat");
    // The sign-in is audited with the passkey as its factor.
    let key = s.create_key("default", "auditor");
    let events: Value = s
        .client()
        .get(s.url("/v1/audit?log=access&action=auth.login&limit=1000"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["details"]["factor"] == "passkey"),
        "{events}"
    );
    b.quit().await;
}
