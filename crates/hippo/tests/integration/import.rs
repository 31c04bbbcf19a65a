//! `hippo import` against a real server, and the batch endpoint's idempotency keys it relies on:
//! NDJSON and CSV (mapped) imports, reruns and interrupted runs that never duplicate, rejected
//! lines reported by number with `--max-errors` deciding whether the import goes on, and no
//! record content in the command's output or the server's logs.

use super::*;
use hippo_testkit::CANARY;
use std::path::{Path, PathBuf};

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The summary's counts: read, imported, skipped, rejected.
    fn counts(&self) -> [u64; 4] {
        let line = self
            .stdout
            .lines()
            .find(|l| l.starts_with("import:"))
            .unwrap_or_else(|| panic!("no summary in {:?} / {:?}", self.stdout, self.stderr));
        let n: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        [n[0], n[1], n[2], n[3]]
    }

    fn assert_no_phi(&self) {
        for text in [&self.stdout, &self.stderr] {
            assert!(
                !text.contains(CANARY),
                "record content in the output: {text}"
            );
        }
    }
}

fn import_cmd(s: &TestServer, key: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = s.command();
    cmd.arg("import")
        .args(["--url", &s.base_url])
        .env("HIPPO_API_KEY", key)
        .args(args);
    cmd
}

fn import(s: &TestServer, key: &str, args: &[&str]) -> Run {
    let out = import_cmd(s, key, args)
        .output()
        .expect("hippo import runs");
    let run = Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    run.assert_no_phi();
    run
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn ndjson_line(i: usize) -> String {
    json!({"type": "Patient", "subject": format!("imp-{i}"), "body": {"name": format!("{CANARY} {i}")}})
        .to_string()
}

/// Every live record of the tenant, following pagination.
async fn all_records(s: &TestServer, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get_json(s, key, &format!("/v1/records?limit=1000{cursor}")).await;
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return out,
        }
    }
}

async fn post_batch(s: &TestServer, key: &str, items: &Value) -> Response {
    authed(
        &s.client(),
        reqwest::Method::POST,
        s.url("/v1/records:batch"),
        key,
    )
    .json(items)
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn batch_items_with_idempotency_keys_replay_instead_of_duplicating() {
    let s = server();
    let key = s.admin_key.clone();
    let items = json!([
        {"type": "Patient", "subject": "k-1", "body": {"n": 1}, "idempotency_key": "key-1"},
        {"type": "Patient", "subject": "k-2", "body": {"n": 2}},
        {"type": "Patient", "subject": "k-3", "body": {"n": 3}, "idempotency_key": "key-3"}
    ]);
    let r = post_batch(&s, &key, &items).await;
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["created"], 3);
    assert_eq!(first["replayed"], json!([]));

    // The answer was "lost": the same batch again. Keyed items replay with their first ids;
    // the unkeyed one is a new record, as without keys.
    let r = post_batch(&s, &key, &items).await;
    assert_eq!(r.status(), 201);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["count"], 3);
    assert_eq!(again["created"], 1);
    assert_eq!(again["replayed"], json!([0, 2]));
    assert_eq!(again["ids"][0], first["ids"][0]);
    assert_eq!(again["ids"][2], first["ids"][2]);
    assert_ne!(again["ids"][1], first["ids"][1]);
    assert_eq!(all_records(&s, &key).await.len(), 4);

    // A key reused for a different record refuses the batch, naming the item; nothing written.
    let reused = json!([
        {"type": "Patient", "subject": "k-4", "body": {"n": 4}, "idempotency_key": "key-4"},
        {"type": "Patient", "subject": "k-1", "body": {"n": 99}, "idempotency_key": "key-1"}
    ]);
    let p = expect_problem(post_batch(&s, &key, &reused).await, 400, "invalid-envelope").await;
    assert_eq!(p["errors"][0]["field"], "/1/idempotency_key", "{p}");
    assert_eq!(p["errors"][0]["code"], "reused", "{p}");
    // A key twice in one batch, and malformed keys, likewise.
    let twice = json!([
        {"type": "Patient", "body": {}, "idempotency_key": "key-5"},
        {"type": "Patient", "body": {}, "idempotency_key": "key-5"}
    ]);
    let p = expect_problem(post_batch(&s, &key, &twice).await, 400, "invalid-envelope").await;
    assert_eq!(p["errors"][0]["field"], "/1/idempotency_key", "{p}");
    let long = "k".repeat(129);
    let malformed = json!([
        {"type": "Patient", "body": {}, "idempotency_key": ""},
        {"type": "Patient", "body": {}, "idempotency_key": 7},
        {"type": "Patient", "body": {}, "idempotency_key": long},
        {"type": "Patient", "body": {}, "idempotency_key": "has space"}
    ]);
    let p = expect_problem(
        post_batch(&s, &key, &malformed).await,
        400,
        "invalid-envelope",
    )
    .await;
    let fields = problem_fields(&p);
    assert_eq!(
        fields,
        [
            "/0/idempotency_key",
            "/1/idempotency_key",
            "/2/idempotency_key",
            "/3/idempotency_key"
        ]
    );
    assert_eq!(
        all_records(&s, &key).await.len(),
        4,
        "refused batches wrote nothing"
    );

    // Keys belong to their tenant: the same key elsewhere creates that tenant's own record.
    s.create_tenant("other");
    let other = s.create_key("other", "writer");
    let r = post_batch(&s, &other, &json!([items[0].clone()])).await;
    let there: Value = r.json().await.unwrap();
    assert_eq!(there["created"], 1, "{there}");
    assert_ne!(there["ids"][0], first["ids"][0]);
}

#[tokio::test]
async fn ndjson_imports_once_and_a_rerun_skips_everything() {
    let s = server();
    let key = s.create_key("default", "writer");
    let dir = tempfile::tempdir().unwrap();
    let mut lines: Vec<String> = (0..7).map(ndjson_line).collect();
    // Two identical lines are two records, and stay two on every rerun.
    lines.push(ndjson_line(0));
    let file = write(dir.path(), "patients.ndjson", &lines);
    let file = file.to_str().unwrap();

    let run = import(&s, &key, &["--batch-size", "3", file]);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(run.counts(), [8, 8, 0, 0]);
    assert!(
        !run.stderr.contains('\u{1b}'),
        "no progress bar when not on a terminal"
    );
    let again = import(&s, &key, &[file]);
    assert!(again.ok, "{}", again.stderr);
    assert_eq!(again.counts(), [8, 0, 8, 0]);
    let records = all_records(&s, &key).await;
    assert_eq!(records.len(), 8);
    assert_eq!(
        records.iter().filter(|r| r["subject"] == "imp-0").count(),
        2
    );

    // The file grew (an interrupted export resumed, or new data): only the new lines go in.
    lines.extend((7..10).map(ndjson_line));
    write(dir.path(), "patients.ndjson", &lines);
    let grown = import(&s, &key, &["--batch-size", "4", file]);
    assert!(grown.ok, "{}", grown.stderr);
    assert_eq!(grown.counts(), [11, 3, 8, 0]);
    assert_eq!(all_records(&s, &key).await.len(), 11);
    assert!(
        !s.logs().contains(CANARY),
        "record content in the server log"
    );
}

#[tokio::test]
async fn an_interrupted_import_resumes_without_duplicates() {
    let s = server();
    let key = s.create_key("default", "writer");
    let dir = tempfile::tempdir().unwrap();
    const N: usize = 3000;
    let file = write(
        dir.path(),
        "big.jsonl",
        &(0..N).map(ndjson_line).collect::<Vec<_>>(),
    );
    // Small batches, so the run is killed with some batches acknowledged, perhaps one written
    // whose answer never arrived, and most not sent.
    let mut child = import_cmd(&s, &key, &["--batch-size", "5", file.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let page: Value = authed(
            &s.client(),
            reqwest::Method::GET,
            s.url("/v1/records?limit=1"),
            &s.admin_key,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        if !page["items"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the import never began"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the import finished before it could be interrupted; give it more lines"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = all_records(&s, &key).await.len();
    assert!(
        partial > 0 && partial < N,
        "{partial} of {N} imported before the kill"
    );

    // Rerun with another batch size: keys do not depend on batching.
    let run = import(&s, &key, &["--batch-size", "400", file.to_str().unwrap()]);
    assert!(run.ok, "{}", run.stderr);
    let [read, imported, skipped, rejected] = run.counts();
    assert_eq!((read, rejected), (N as u64, 0));
    // A batch in flight at the kill may have been written after the count above: skipped, too.
    assert!(
        skipped as usize >= partial,
        "{skipped} skipped, {partial} there"
    );
    assert_eq!((imported + skipped) as usize, N);
    let records = all_records(&s, &key).await;
    assert_eq!(records.len(), N, "no record lost, none duplicated");
    let subjects: std::collections::HashSet<&str> = records
        .iter()
        .map(|r| r["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects.len(), N);
}

#[tokio::test]
async fn csv_imports_through_a_mapping() {
    let s = server();
    let key = s.create_key("default", "writer");
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "patients.csv",
        &[
            "mrn,last_name,first_name,dob,weight".into(),
            format!("m-1,{CANARY},Ada,1970-01-01,61.5"),
            format!("m-2,{CANARY},Bo,1980-02-02,heavy"),
            format!("m-3,\"{CANARY}, Jr\",Cy,,70"),
            format!(",{CANARY},Di,1990-03-03,80"),
            "m-5,Short,Row".into(),
        ],
    );
    let mapping = dir.path().join("patients.map");
    std::fs::write(
        &mapping,
        "# body field = column\nname.family=last_name\nname.given=first_name\nbirthDate=dob\nweightKg=weight:number\n",
    )
    .unwrap();
    let map_arg = format!("@{}", mapping.display());
    let run = import(&s, &key, &patient_csv_args(&map_arg, csv.to_str().unwrap()));
    assert!(!run.ok, "rejected rows make the exit status non-zero");
    assert_eq!(run.counts(), [5, 2, 0, 3]);
    let name = csv.display().to_string();
    for (line, why) in [
        (3, "column `weight` (field weightKg): not a number"),
        (5, "the subject column `mrn` is empty"),
        (6, "the row has 3 fields, the header 5"),
    ] {
        assert!(
            run.stderr
                .contains(&format!("{name}:{line}: rejected: {why}")),
            "line {line}: {}",
            run.stderr
        );
    }
    let mut records = all_records(&s, &key).await;
    records.sort_by_key(|r| r["subject"].as_str().unwrap().to_owned());
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["subject"], "m-1");
    assert_eq!(records[0]["type"], "Patient");
    assert_eq!(records[0]["labels"], json!(["imported"]));
    assert_eq!(
        records[0]["body"],
        json!({"name": {"family": CANARY, "given": "Ada"}, "birthDate": "1970-01-01", "weightKg": 61.5})
    );
    assert_eq!(
        records[1]["body"],
        json!({"name": {"family": format!("{CANARY}, Jr"), "given": "Cy"}, "weightKg": 70})
    );

    // The same mapping inline, after fixing nothing: the good rows are skipped.
    let inline = "name.family=last_name,name.given=first_name,birthDate=dob,weightKg=weight:number";
    let again = import(&s, &key, &patient_csv_args(inline, csv.to_str().unwrap()));
    assert_eq!(again.counts(), [5, 0, 2, 3]);
    assert!(
        !s.logs().contains(CANARY),
        "record content in the server log"
    );

    // A mapping naming a missing column is refused before anything is sent.
    let bad = import(
        &s,
        &key,
        &[
            "--type",
            "Patient",
            "--map",
            "name=surname",
            csv.to_str().unwrap(),
        ],
    );
    assert!(!bad.ok);
    assert!(bad.stderr.contains("no column `surname`"), "{}", bad.stderr);
}

#[tokio::test]
async fn malformed_lines_are_reported_by_number_and_max_errors_decides() {
    let s = server_with(Options::default().env("HIPPO_BATCH_MAX_RECORDS", "2"));
    let key = s.create_key("default", "writer");
    let dir = tempfile::tempdir().unwrap();
    let lines = vec![
        ndjson_line(1),
        format!("{{\"type\": \"Patient\", \"body\": {{\"name\": \"{CANARY}\""),
        ndjson_line(3),
        json!({"type": "Patient", "body": {"name": CANARY}, "nickname": CANARY}).to_string(),
        ndjson_line(5),
        ndjson_line(6),
    ];
    let file = write(dir.path(), "mixed.ndjson", &lines);
    let name = file.display().to_string();
    let f = file.to_str().unwrap();

    // Default --max-errors 0: stops at line 2; line 1, read before it, is in.
    let first = import(&s, &key, &[f]);
    assert!(!first.ok);
    assert!(
        first
            .stderr
            .contains(&format!("{name}:2: rejected: not valid JSON")),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains(&format!("stopped at {name}:2")),
        "{}",
        first.stderr
    );
    assert_eq!(first.counts(), [2, 1, 0, 1]);
    assert_eq!(all_records(&s, &key).await.len(), 1);

    // --max-errors 1: goes past line 2, stops at line 4 (its unknown field named, not its value).
    let second = import(&s, &key, &["--max-errors", "1", f]);
    assert!(!second.ok);
    assert!(
        second.stderr.contains(&format!(
            "{name}:4: rejected: field nickname: unknown_field"
        )),
        "{}",
        second.stderr
    );
    assert_eq!(second.counts(), [4, 1, 1, 2]);

    // Enough tolerance: every good line is in, the bad ones listed, the exit status non-zero.
    // The server takes 2 records per batch: the client says so and goes on in batches of 2.
    let third = import(&s, &key, &["--max-errors", "5", "--batch-size", "10", f]);
    assert!(!third.ok);
    assert_eq!(third.counts(), [6, 2, 2, 2]);
    assert!(
        third.stderr.contains("accepts at most 2 records per batch"),
        "{}",
        third.stderr
    );
    assert!(
        third.stderr.contains("2 line(s) rejected"),
        "{}",
        third.stderr
    );
    assert_eq!(all_records(&s, &key).await.len(), 4);

    // An item the server refuses (its own key reused for another record) is reported by line
    // and left out; the rest of its batch is imported.
    let keyed = write(
        dir.path(),
        "keyed.ndjson",
        &[
            json!({"type": "Patient", "body": {"name": CANARY}, "idempotency_key": "own-1"})
                .to_string(),
            json!({"type": "Patient", "body": {"name": "other"}, "idempotency_key": "own-1"})
                .to_string(),
        ],
    );
    let seeded = post_batch(
        &s,
        &key,
        &json!([{"type": "Patient", "body": {"name": "first"}, "idempotency_key": "own-1"}]),
    )
    .await;
    assert_eq!(seeded.status(), 201);
    let keyed_name = keyed.display().to_string();
    let fourth = import(&s, &key, &["--max-errors", "5", keyed.to_str().unwrap()]);
    assert!(!fourth.ok);
    assert!(
        fourth.stderr.contains(&format!(
            "{keyed_name}:1: rejected by the server: field idempotency_key: reused"
        )),
        "{}",
        fourth.stderr
    );
    assert_eq!(fourth.counts()[3], 2);
    assert!(
        !s.logs().contains(CANARY),
        "record content in the server log"
    );
}

/// `hippo import` arguments for the patients CSV fixture with `mapping`, going on past errors.
fn patient_csv_args<'a>(mapping: &'a str, csv: &'a str) -> [&'a str; 11] {
    [
        "--type",
        "Patient",
        "--subject-column",
        "mrn",
        "--label",
        "imported",
        "--map",
        mapping,
        "--max-errors",
        "10",
        csv,
    ]
}
