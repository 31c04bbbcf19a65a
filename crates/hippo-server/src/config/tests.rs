//! Unit tests of loading, validation and secrets.

use super::*;

#[test]
fn defaults_are_valid_and_template_round_trips() {
    Config::default().validate().unwrap();
    let parsed: Config = toml::from_str(&Config::template()).unwrap();
    assert_eq!(parsed, Config::default());
}

#[test]
fn insecure_http_requires_loopback() {
    let c = Config {
        insecure_http: true,
        listen: "0.0.0.0:80".into(),
        ..Config::default()
    };
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("`insecure_http`") && e.contains("Fix:"), "{e}");
}

#[test]
fn errors_name_the_key_and_env_var() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(CONFIG_FILE), "max_body_bytes = \"big\"\n").unwrap();
    let e = Config::load(d.path(), &FlagOverrides::default()).unwrap_err();
    assert_eq!(e.key, "max_body_bytes");
    assert_eq!(e.env, "HIPPO_MAX_BODY_BYTES");
    std::fs::write(d.path().join(CONFIG_FILE), "[rate_limit]\nrps = 1\n").unwrap();
    let e = Config::load(d.path(), &FlagOverrides::default()).unwrap_err();
    assert_eq!(e.key, "rate_limit.rps", "{e}");
    assert!(e.to_string().contains("requests_per_second"), "{e}");
}

#[test]
fn s3_export_keys_are_validated() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join(CONFIG_FILE),
        "[audit]\nexport_url = \"s3://audit-bucket/hippo\"\ns3_endpoint = \"http://127.0.0.1:9000\"\ns3_sse = \"AES256\"\n",
    )
    .unwrap();
    let c = Config::load(d.path(), &FlagOverrides::default()).unwrap();
    let opts = c.audit.s3_options();
    assert_eq!(opts.sse, hippo_store::export::ServerSideEncryption::Aes256);
    assert_eq!(opts.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    let bad = |audit: AuditConfig| {
        Config {
            audit,
            ..Config::default()
        }
        .validate()
        .unwrap_err()
        .key
    };
    let url = |u: &str| AuditConfig {
        export_url: Some(u.into()),
        ..AuditConfig::default()
    };
    assert_eq!(bad(url("/var/audit")), "audit.export_url");
    assert_eq!(bad(url("s3://No_Such")), "audit.export_url");
    let sse = AuditConfig {
        s3_sse: "rot13".into(),
        ..AuditConfig::default()
    };
    assert_eq!(bad(sse), "audit.s3_sse");
    let kms = AuditConfig {
        s3_sse: "none".into(),
        s3_kms_key_id: Some("k".into()),
        ..AuditConfig::default()
    };
    assert_eq!(bad(kms), "audit.s3_kms_key_id");
}

#[test]
fn a_shared_keyring_file_is_for_postgres_and_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    if std::env::var_os(KEYRING_ENV).is_some() {
        return; // the environment's keyring wins by design
    }
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("shared-keyring.json");
    std::fs::write(
        &file,
        hippo_store::Keyring::generate_json().unwrap().as_bytes(),
    )
    .unwrap();
    let sqlite = Config {
        keyring_file: Some(file.clone()),
        ..Config::default()
    };
    let e = sqlite.validate().unwrap_err();
    assert_eq!(e.key, "keyring_file");
    let pg = Config {
        store: StoreKind::Postgres,
        keyring_file: Some(file.clone()),
        ..Config::default()
    };
    pg.validate().unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let e = pg.load_keyring(d.path()).unwrap_err().to_string();
    assert!(e.contains("chmod 600"), "{e}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    pg.load_keyring(d.path()).unwrap().ledger_keys().unwrap();
}

#[test]
fn database_url_comes_from_a_private_file_and_is_never_echoed() {
    if std::env::var_os("HIPPO_DATABASE_URL").is_some() {
        return; // the environment wins by design; nothing to test here
    }
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("db-url");
    // hippo:ignore HIPPO-SECRET-004 reason="made-up password the test asserts is never echoed"
    let url = "postgres://hippo:Pw-Zebediah@db.example.com/hippo?sslmode=verify-full";
    std::fs::write(&file, format!("{url}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let c = Config {
        store: StoreKind::Postgres,
        database_url_file: Some(file.clone()),
        ..Config::default()
    };
    c.validate().unwrap();
    let e = c.database_url().unwrap_err().to_string();
    assert!(e.contains("chmod 600") && !e.contains("Pw-Zebediah"), "{e}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(c.database_url().unwrap(), url);
    let none = Config {
        store: StoreKind::Postgres,
        ..Config::default()
    };
    assert!(none
        .database_url()
        .unwrap_err()
        .to_string()
        .contains("HIPPO_DATABASE_URL"));
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(CONFIG_FILE), "store = \"mysql\"\n").unwrap();
    let e = Config::load(d.path(), &FlagOverrides::default()).unwrap_err();
    assert_eq!(e.key, "store");
}

#[test]
fn flags_override_file() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(CONFIG_FILE), "listen = \"127.0.0.1:9000\"\n").unwrap();
    let c = Config::load(
        d.path(),
        &FlagOverrides {
            listen: Some("127.0.0.1:0".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(c.listen, "127.0.0.1:0");
}

#[test]
fn log_settings_are_typed() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(CONFIG_FILE), "[log]\nlevel = \"loud\"\n").unwrap();
    let e = Config::load(d.path(), &FlagOverrides::default()).unwrap_err();
    assert_eq!(e.key, "log.level", "{e}");
    std::fs::write(
        d.path().join(CONFIG_FILE),
        "[log]\nlevel = \"debug\"\nformat = \"text\"\n",
    )
    .unwrap();
    let c = Config::load(d.path(), &FlagOverrides::default()).unwrap();
    assert_eq!(
        (c.log.level, c.log.format),
        (LogLevel::Debug, LogFormat::Text)
    );
}

#[test]
fn the_backup_example_in_the_deployment_guide_parses_and_validates() {
    let guide = include_str!("../../../../docs/deploy.md");
    let start = guide
        .find("```toml\n[backup]")
        .expect("the guide shows a [backup] example")
        + 8;
    let len = guide[start..].find("```").unwrap();
    let config: Config = toml::from_str(&guide[start..start + len]).expect("the example parses");
    config.backup.validate().expect("the example validates");
    assert_eq!(config.backup.to.len(), 2);
    assert_eq!(config.backup.interval_secs, 1);
}

#[test]
fn the_oidc_example_in_the_deployment_guide_parses_and_validates() {
    let guide = include_str!("../../../../docs/deploy.md");
    let start = guide
        .find("```toml\n[oidc]")
        .expect("the guide shows an [oidc] example")
        + 8;
    let len = guide[start..].find("```").unwrap();
    let config: Config = toml::from_str(&guide[start..start + len]).expect("the example parses");
    let oidc = config.oidc.as_ref().expect("an [oidc] section");
    oidc.validate().expect("the example validates");
    assert_eq!(
        oidc.claims.role_map.get("privacy-office"),
        Some(&hippo_core::Role::Auditor)
    );
}

#[test]
fn mfa_cannot_be_made_optional_for_admins_or_auditors() {
    for role in ["admin", "auditor"] {
        let text = format!("[auth.mfa_optional]\ndefault = [\"{role}\"]\n");
        let config: Config = toml::from_str(&text).unwrap();
        let e = config.auth.validate().unwrap_err();
        assert_eq!(e.key, "auth.mfa_optional", "{e}");
    }
    let config: Config = toml::from_str("[auth.mfa_optional]\ndefault = [\"reader\"]\n").unwrap();
    config.auth.validate().unwrap();
}

#[test]
fn the_writer_cache_is_a_bounded_key() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join(CONFIG_FILE),
        "[sqlite]\nwriter_cache_mib = 0\n",
    )
    .unwrap();
    let e = Config::load(d.path(), &FlagOverrides::default()).unwrap_err();
    assert_eq!(e.key, "sqlite.writer_cache_mib", "{e}");
    assert_eq!(e.env, "HIPPO_SQLITE__WRITER_CACHE_MIB");
    std::fs::write(
        d.path().join(CONFIG_FILE),
        "[sqlite]\nwriter_cache_mib = 256\n",
    )
    .unwrap();
    let c = Config::load(d.path(), &FlagOverrides::default()).unwrap();
    assert_eq!(c.sqlite.writer_cache_mib, 256);
}
