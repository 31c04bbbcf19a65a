//! `hippo apikey`, `hippo user` and `hippo policy`: the operator's commands for credentials,
//! people and access questions, run on the host against the store (audited as `operator`).

use crate::{open_store, operator_draft};
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use hippo_core::{Action, Role, TenantId};
use hippo_server::auth::users::{answer, hash_new_password, question_input, user_view};
use hippo_server::config::FlagOverrides;
use hippo_server::init;
use hippo_store::identity::{normalize_username, Membership, NewUser, UserChange};
use hippo_store::KeyRotation;
use std::io::BufRead;
use std::path::Path;

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key; prints the key alone on stdout (capture it with KEY=$(hippo apikey create ...)).
    Create {
        /// Tenant the key belongs to.
        #[arg(long)]
        tenant: String,
        /// admin, writer, reader or auditor.
        #[arg(long)]
        role: String,
        /// What the key is for.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime, e.g. 90d, 12h, 30m; unset: the key never expires.
        #[arg(long, value_parser = parse_duration_secs)]
        expires_in: Option<u64>,
    },
    /// List keys (all tenants, or one).
    List {
        #[arg(long)]
        tenant: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id (the part after `hpk_`, before the second `_`).
    Revoke { key_id: String },
    /// Replace a key with a new one (printed on stdout); the old one keeps working for the
    /// overlap, then expires.
    Rotate {
        key_id: String,
        /// How long the old key keeps working, e.g. 24h (default), 0s.
        #[arg(long, value_parser = parse_duration_secs, default_value = "24h")]
        overlap: u64,
        /// Lifetime of the new key; unset: it never expires.
        #[arg(long, value_parser = parse_duration_secs)]
        expires_in: Option<u64>,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user with a role in a tenant. The password is read from the first line of
    /// standard input (never from the command line), e.g.
    /// `printf '%s\n' "$PASSWORD" | hippo user add --tenant default --role reader nurse.joy`.
    /// The user enrols an authenticator at first sign-in.
    Add {
        username: String,
        #[arg(long)]
        tenant: String,
        /// admin, writer, reader or auditor.
        #[arg(long)]
        role: String,
    },
    /// List users (all tenants, or one).
    List {
        #[arg(long)]
        tenant: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: every session ends at once, on every instance.
    Disable { user_id: String },
    /// Enable a disabled user again.
    Enable { user_id: String },
    /// Remove a user's authenticator and recovery codes (they enrol again at next sign-in);
    /// ends their sessions.
    ResetMfa { user_id: String },
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// "What can X see?": ask the policy engine (built-in roles plus the tenant's Rego rules)
    /// whether a principal may perform an action on a resource, without touching PHI.
    Explain {
        /// The principal: `<role>@<tenant>`, e.g. reader@default.
        #[arg(long)]
        principal: String,
        /// An action, e.g. record.read, record.create, audit.read.
        #[arg(long)]
        action: String,
        /// The resource: `<tenant>[/<record type>]`, e.g. default/ClinicalNote.
        #[arg(long)]
        resource: String,
        /// A label on the resource (repeatable), e.g. --label restricted.
        #[arg(long = "label")]
        labels: Vec<String>,
        /// Ask as if an emergency (break-glass) elevation were open.
        #[arg(long)]
        emergency: bool,
    },
}

/// Parses `90d`, `12h`, `30m`, `45s` or plain seconds. Hand-written: four units do not justify
/// a dependency.
pub fn parse_duration_secs(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a duration; use e.g. 90d, 12h, 30m or 45s"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit in '{s}'; use s, m, h or d")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too long"))
}

fn now_ms() -> i64 {
    hippo_core::time_fmt::now_millis()
}

pub async fn apikey(data_dir: &Path, cmd: ApiKeyCommand) -> Result<()> {
    let store = open_store(data_dir).await?;
    let result = async {
        match cmd {
            ApiKeyCommand::Create {
                tenant,
                role,
                name,
                expires_in,
            } => {
                let tenant: TenantId = tenant.parse().context("--tenant")?;
                let role: Role = role.parse().context("--role")?;
                let expires = expires_in.map(|s| now_ms() + s as i64 * 1000);
                let token = init::create_key(
                    store.as_ref(),
                    &tenant,
                    role,
                    name.as_deref().unwrap_or(""),
                    expires,
                )
                .await?;
                // Alone on its line on stdout, so scripts can capture it: KEY=$(hippo apikey create ...)
                println!("{token}");
                let until = expires
                    .map(|e| format!(" It expires at {}.", hippo_core::time_fmt::rfc3339(e)))
                    .unwrap_or_default();
                eprintln!(
                    "Created a {role} key for tenant '{tenant}'. It is shown only now.{until}"
                );
            }
            ApiKeyCommand::List { tenant, json } => {
                let tenant = tenant
                    .map(|t| t.parse::<TenantId>())
                    .transpose()
                    .context("--tenant")?;
                let keys = store
                    .list_api_keys(
                        tenant.as_ref(),
                        operator_draft(tenant.clone(), Action::ApiKeyList),
                    )
                    .await?;
                if json {
                    let views: Vec<_> = keys
                        .into_iter()
                        .map(hippo_server::routes::admin::view)
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&views)?);
                } else {
                    println!(
                        "{:<18} {:<12} {:<8} {:<22} {:<11} NAME",
                        "KEY ID", "TENANT", "ROLE", "STATUS", "LAST USED"
                    );
                    let now = now_ms();
                    for k in keys {
                        let day = |t: i64| hippo_core::time_fmt::rfc3339(t)[..10].to_owned();
                        let status = match (k.revoked_at_ms, k.expires_at_ms) {
                            (Some(t), _) => format!("revoked {}", day(t)),
                            (None, Some(e)) if e <= now => format!("expired {}", day(e)),
                            (None, Some(e)) => format!("expires {}", day(e)),
                            (None, None) => "active".into(),
                        };
                        let used = k.last_used_at_ms.map(day).unwrap_or_else(|| "-".into());
                        println!(
                            "{:<18} {:<12} {:<8} {:<22} {:<11} {}",
                            k.key_id, k.tenant, k.role, status, used, k.name
                        );
                    }
                }
            }
            ApiKeyCommand::Revoke { key_id } => {
                let info = store
                    .revoke_api_key(None, &key_id, operator_draft(None, Action::ApiKeyRevoke))
                    .await?;
                eprintln!(
                    "Revoked key {} of tenant '{}'; it stops working immediately.",
                    info.key_id, info.tenant
                );
            }
            ApiKeyCommand::Rotate {
                key_id,
                overlap,
                expires_in,
            } => {
                let minted = hippo_core::apikey::mint(&hippo_store::random::bytes::<
                    { hippo_core::apikey::RANDOM_BYTES },
                >()?);
                let token = minted.token.clone();
                let now = now_ms();
                let rotation = KeyRotation {
                    minted,
                    overlap_ms: overlap as i64 * 1000,
                    expires_at_ms: expires_in.map(|s| now + s as i64 * 1000),
                    now_ms: now,
                    created_by: "operator".into(),
                };
                let info = store
                    .rotate_api_key(
                        None,
                        &key_id,
                        rotation,
                        operator_draft(None, Action::ApiKeyRotate),
                    )
                    .await?;
                println!("{token}");
                eprintln!(
                    "Key {key_id} is replaced by {} (tenant '{}'); the old key stops working at {}.",
                    info.key_id,
                    info.tenant,
                    hippo_core::time_fmt::rfc3339(now + overlap as i64 * 1000)
                );
            }
        }
        Ok(())
    }
    .await;
    store.shutdown().await;
    result
}

/// Reads a password from the first line of standard input.
fn password_from_stdin() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_owned();
    if pw.is_empty() {
        bail!("no password on standard input; pipe it in, e.g. printf '%s\\n' \"$PASSWORD\" | hippo user add ...");
    }
    Ok(pw)
}

pub async fn user(data_dir: &Path, cmd: UserCommand) -> Result<()> {
    let config = hippo_server::Config::load(data_dir, &FlagOverrides::default())?;
    let store = open_store(data_dir).await?;
    let result = async {
        match cmd {
            UserCommand::Add {
                username,
                tenant,
                role,
            } => {
                let tenant: TenantId = tenant.parse().context("--tenant")?;
                let role: Role = role.parse().context("--role")?;
                let username = normalize_username(&username)
                    .map_err(|why| anyhow::anyhow!("username: {why}"))?;
                let pw = password_from_stdin()?;
                let hash = hash_new_password(
                    config.auth.argon2,
                    config.auth.password_min_length,
                    &username,
                    pw,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                let u = store
                    .create_user(
                        NewUser {
                            username,
                            password_hash: hash,
                            memberships: vec![Membership {
                                tenant: tenant.clone(),
                                role,
                            }],
                            created_by: "operator".into(),
                        },
                        operator_draft(Some(tenant.clone()), Action::UserCreate),
                    )
                    .await?;
                println!("{}", u.id);
                eprintln!(
                    "Created user {} ({role} in '{tenant}'). At first sign-in they enrol an authenticator app.",
                    u.username
                );
            }
            UserCommand::List { tenant, json } => {
                let tenant = tenant
                    .map(|t| t.parse::<TenantId>())
                    .transpose()
                    .context("--tenant")?;
                let users = store
                    .list_users(
                        tenant.as_ref(),
                        operator_draft(tenant.clone(), Action::UserList),
                    )
                    .await?;
                if json {
                    let views: Vec<_> = users.into_iter().map(user_view).collect();
                    println!("{}", serde_json::to_string_pretty(&views)?);
                } else {
                    println!(
                        "{:<40} {:<24} {:<9} {:<8} MEMBERSHIPS",
                        "USER ID", "USERNAME", "STATUS", "MFA"
                    );
                    for u in users {
                        let status = if u.disabled_at_ms.is_some() { "disabled" } else { "active" };
                        let mfa = match (u.totp_enrolled, u.passkeys) {
                            (true, 0) => "totp".to_owned(),
                            (false, 0) => "-".to_owned(),
                            (true, n) => format!("totp+{n}pk"),
                            (false, n) => format!("{n}pk"),
                        };
                        let m: Vec<String> = u
                            .memberships
                            .iter()
                            .map(|m| format!("{}:{}", m.tenant, m.role))
                            .collect();
                        println!(
                            "{:<40} {:<24} {:<9} {:<8} {}",
                            u.id,
                            u.username,
                            status,
                            mfa,
                            m.join(",")
                        );
                    }
                }
            }
            UserCommand::Disable { user_id } => {
                change(store.as_ref(), &user_id, UserChange::Disable, Action::UserDisable).await?;
                eprintln!("Disabled {user_id}; their sessions have ended.");
            }
            UserCommand::Enable { user_id } => {
                change(store.as_ref(), &user_id, UserChange::Enable, Action::UserDisable).await?;
                eprintln!("Enabled {user_id}.");
            }
            UserCommand::ResetMfa { user_id } => {
                change(store.as_ref(), &user_id, UserChange::ResetMfa, Action::UserResetMfa)
                    .await?;
                eprintln!("Reset the second factor of {user_id}; they enrol a new one at next sign-in.");
            }
        }
        Ok(())
    }
    .await;
    store.shutdown().await;
    result
}

async fn change(
    store: &dyn hippo_store::Store,
    user_id: &str,
    change: UserChange,
    action: Action,
) -> Result<()> {
    store
        .change_user(
            None,
            user_id,
            change,
            now_ms(),
            operator_draft(None, action),
        )
        .await?;
    Ok(())
}

pub async fn policy(data_dir: &Path, cmd: PolicyCommand) -> Result<()> {
    let PolicyCommand::Explain {
        principal,
        action,
        resource,
        labels,
        emergency,
    } = cmd;
    let config = hippo_server::Config::load(data_dir, &FlagOverrides::default())?;
    let engine = hippo_policy::PolicyEngine::load(&hippo_policy::PolicyConfig {
        dir: config.policy.dir.clone(),
    })?;
    let (role, p_tenant) = principal
        .split_once('@')
        .context("--principal must be <role>@<tenant>, e.g. reader@default")?;
    let (r_tenant, record_type) = match resource.split_once('/') {
        Some((t, ty)) => (t.to_owned(), Some(ty.to_owned())),
        None => (resource.clone(), None),
    };
    let q = hippo_proto::PolicyQuestion {
        role: role.to_owned(),
        principal_tenant: Some(p_tenant.to_owned()),
        action,
        resource_tenant: Some(r_tenant),
        record_type,
        labels,
        emergency,
    };
    let default: TenantId = p_tenant.parse().context("--principal tenant")?;
    let input = question_input(&q, &default, now_ms()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let a = answer(engine.decide(&input));
    println!("{}", serde_json::to_string_pretty(&a)?);
    if !a.allowed {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration_secs;

    #[test]
    fn durations_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_duration_secs("90d"), Ok(90 * 86_400));
        assert_eq!(parse_duration_secs("12h"), Ok(43_200));
        assert_eq!(parse_duration_secs("30m"), Ok(1_800));
        assert_eq!(parse_duration_secs("45"), Ok(45));
        assert!(parse_duration_secs("1w").is_err());
        assert!(parse_duration_secs("h").is_err());
        assert!(parse_duration_secs("99999999999999999999d").is_err());
    }
}
