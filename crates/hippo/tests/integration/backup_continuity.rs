//! `hippo backup verify --store S --audit-export DEST`: a database (on PostgreSQL, one restored
//! from an RDS snapshot or to a point in time) checked against the sealed audit batches and
//! signed tree heads exported from it. Runs on both stores: every exported event must be in the
//! database unchanged, and a missing or altered one is named.

use crate::{create_id, default_log, patient, server};
use hippo_testkit::Tamper;

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_is_checked_against_its_audit_export() {
    let mut s = server();
    let key = s.admin_key.clone();
    for i in 0..6 {
        create_id(&s, &key, patient(&format!("c-{i}"))).await;
    }
    let export = s.dir.path().join("audit-export");
    let export = export.to_str().unwrap();
    let o = s.cli(&["audit", "export", "--to", export, "--batch-size", "3"]);
    assert!(o.status.success(), "{}", out(&o));
    let store = hippo_testkit::store_kind().to_string();
    let verify = |s: &hippo_testkit::TestServer| {
        s.cli(&[
            "backup",
            "verify",
            "--store",
            &store,
            "--audit-export",
            export,
        ])
    };
    let o = verify(&s);
    assert!(o.status.success(), "{}", out(&o));
    let text = out(&o);
    assert!(
        text.contains("log default:") && text.contains("found unchanged") && text.contains("OK"),
        "{text}"
    );
    // Writes after the export are reported, not refused.
    create_id(&s, &key, patient("later")).await;
    let o = verify(&s);
    assert!(o.status.success(), "{}", out(&o));
    let text = out(&o);
    let line = text
        .lines()
        .find(|l| l.starts_with("log default:"))
        .unwrap();
    assert!(!line.ends_with(" 0 event(s) since the export"), "{text}");
    s.stop();

    s.tamper(&default_log(), Tamper::AlterOutcome(2)).await;
    let o = verify(&s);
    assert!(!o.status.success());
    assert!(
        out(&o).contains("event 2 of log default differs from its export"),
        "{}",
        out(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_missing_from_a_restored_database_is_named() {
    let mut s = server();
    let key = s.admin_key.clone();
    for i in 0..4 {
        create_id(&s, &key, patient(&format!("m-{i}"))).await;
    }
    let export = s.dir.path().join("audit-export");
    let export = export.to_str().unwrap();
    let o = s.cli(&["audit", "export", "--tenant", "default", "--to", export]);
    assert!(o.status.success(), "{}", out(&o));
    s.stop();
    s.tamper(&default_log(), Tamper::Delete(3)).await;
    let store = hippo_testkit::store_kind().to_string();
    let o = s.cli(&[
        "backup",
        "verify",
        "--store",
        &store,
        "--audit-export",
        export,
    ]);
    assert!(!o.status.success());
    assert!(
        out(&o).contains("event 3 of log default is exported"),
        "{}",
        out(&o)
    );
    assert!(out(&o).contains("missing from the database"), "{}", out(&o));
}
