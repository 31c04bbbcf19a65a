//! The `hippo` command line: parses arguments, loads configuration, and wires the crates together.

mod audit_cmd;
mod backup_bench;
mod backup_cmd;
mod bench;
mod cli;
mod console_bench;
mod corpus;
mod docs_bench;
mod drill;
mod https;
mod import_cmd;
mod import_source;
mod keyring_seal;
mod keys_cmd;
mod logging;
mod people_cmd;
mod records_cmd;
mod search_bench;
mod status_cmd;
mod telemetry_bench;
mod tenant_move;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command, TenantCommand};
use hippo_core::{Action, Actor, AuditDraft, TenantId};
use hippo_server::config::FlagOverrides;
use hippo_server::init;
use hippo_store::{SqliteStore, Store};
use std::path::Path;
use std::sync::Arc;

fn main() -> std::process::ExitCode {
    logging::install_panic_hook();
    let cli = Cli::parse();
    if let Command::Check(args) = &cli.command {
        // The gate is synchronous and needs none of the server's set-up.
        return std::process::ExitCode::from(hippo_check::run(args).clamp(0, 255) as u8);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let data_dir = cli.data_dir.clone();
    match cli.command {
        Command::Serve(args) => serve(&data_dir, args).await,
        Command::Init => {
            logging::init_cli();
            let done = init::ensure(&data_dir, &FlagOverrides::default()).await?;
            match &done.admin_token {
                Some(token) => print_first_run(&data_dir, &done, token),
                None => println!(
                    "{} is already initialised; nothing to do.",
                    data_dir.display()
                ),
            }
            done.store.shutdown().await;
            Ok(())
        }
        Command::Apikey(cmd) => people_cmd::apikey(&data_dir, cmd).await,
        Command::User(cmd) => people_cmd::user(&data_dir, cmd).await,
        Command::Policy(cmd) => people_cmd::policy(&data_dir, cmd).await,
        Command::Tenant(cmd) => tenant(&data_dir, cmd).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Import(args) => import_cmd::run(&data_dir, args).await,
        Command::Status(args) => status_cmd::run(&data_dir, args).await,
        Command::Audit(cmd) => {
            let store = open_store(&data_dir).await?;
            let audit = hippo_server::Config::load(&data_dir, &FlagOverrides::default())?.audit;
            let result = audit_cmd::run(store.as_ref(), cmd, &audit).await;
            store.shutdown().await;
            result
        }
        Command::Records(cmd) => {
            let store = open_store(&data_dir).await?;
            let result = records_cmd::run(store.as_ref(), cmd).await;
            store.shutdown().await;
            result
        }
        Command::Keyring(cli::KeyringCommand::Generate { kms }) => {
            let json = hippo_store::Keyring::generate_json()?;
            let out = keyring_seal::sealed_if_asked(&kms, json).await?;
            println!("{}", out.as_str());
            eprintln!("A new keyring is on stdout: store it in your secret store (never in a repository or a log); every instance of one deployment must use the same keyring.");
            Ok(())
        }
        Command::Keyring(cli::KeyringCommand::Seal { kms, keyring }) => {
            keyring_seal::seal_existing(&data_dir, &kms, keyring.as_deref()).await
        }
        Command::Keyring(cli::KeyringCommand::Escrow { out, keyring }) => {
            logging::init_cli();
            backup_cmd::escrow(&data_dir, &out, keyring.as_deref())
        }
        Command::Keys(cmd) => keys_cmd::run(&data_dir, cmd).await,
        Command::Backup(cmd) => {
            logging::init_cli();
            backup_cmd::run(&data_dir, cmd).await
        }
        Command::Check(_) => unreachable!("handled before the runtime starts"),
        Command::Version => {
            println!("hippo {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    }
}

async fn serve(data_dir: &Path, args: cli::ServeArgs) -> Result<()> {
    let flags = FlagOverrides {
        listen: args.listen,
        insecure_http: args.insecure_http,
        store: args.store,
    };
    let done = init::ensure(data_dir, &flags)
        .await
        .with_context(|| format!("cannot start with data directory {}", data_dir.display()))?;
    let tracer = logging::init_server(&done.config.log, &done.config.tracing)?;
    if let Some(token) = &done.admin_token {
        print_first_run(data_dir, &done, token);
    }
    let config = done.config.clone();
    let store: Arc<dyn Store> = done.store.clone();
    let result = hippo_server::serve::run(
        config,
        data_dir,
        store,
        hippo_server::serve::shutdown_signal(),
    )
    .await;
    if let Some(t) = tracer {
        // Flush the spans still batched; a collector that is gone costs the timeout, no more.
        let _ = tokio::task::spawn_blocking(move || t.shutdown()).await;
    }
    result?;
    Ok(())
}

fn print_first_run(data_dir: &Path, done: &init::Initialized, token: &str) {
    let scheme = if done.config.insecure_http {
        "http"
    } else {
        "https"
    };
    let cacert = done
        .ca_file
        .as_ref()
        .map(|p| format!("--cacert {} ", p.display()))
        .unwrap_or_default();
    println!(
        "Initialised a new Hippo data directory at {}",
        data_dir.display()
    );
    println!(
        "Admin API key for tenant '{}' (shown only now; keep it in a secret manager):",
        init::DEFAULT_TENANT
    );
    println!("{token}");
    println!("Try it:");
    println!(
        "  curl {cacert}-H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\\n    -d '{{\"type\":\"Patient\",\"subject\":\"p-1\",\"body\":{{\"note\":\"hello\"}}}}' {scheme}://{}/v1/records",
        done.config.listen
    );
}

async fn open_store(data_dir: &Path) -> Result<Arc<dyn Store>> {
    logging::init_cli();
    // A PostgreSQL deployment keeps no databases in the data directory, only its configuration.
    let postgres = hippo_server::Config::load(data_dir, &FlagOverrides::default())
        .map(|c| c.store == hippo_store::StoreKind::Postgres)
        .unwrap_or(false);
    if !postgres && !SqliteStore::exists(data_dir) {
        anyhow::bail!(
            "{} is not an initialised Hippo data directory. Fix: run `hippo init --data-dir {}` (or `hippo serve`) first",
            data_dir.display(),
            data_dir.display()
        );
    }
    Ok(init::open_store(data_dir).await?)
}

fn operator_draft(tenant: Option<TenantId>, action: Action) -> AuditDraft {
    let request_id = format!("cli-{}", uuid_like());
    AuditDraft::new(tenant, Actor::operator(), action, &request_id)
}

fn uuid_like() -> String {
    hippo_core::RecordId::new().to_string()
}

async fn tenant(data_dir: &Path, cmd: TenantCommand) -> Result<()> {
    let store = open_store(data_dir).await?;
    let result = async {
        match cmd {
            TenantCommand::Create { name } => {
                let id: TenantId = name.parse().context("tenant name")?;
                store.create_tenant(&id, operator_draft(None, Action::TenantCreate)).await?;
                eprintln!("Created tenant '{id}' with its own encrypted database. Next: hippo apikey create --tenant {id} --role admin");
            }
            TenantCommand::List => {
                for t in store.list_tenants().await? {
                    println!("{}\t{}", t.id, hippo_core::time_fmt::rfc3339(t.created_at_ms));
                }
            }
            TenantCommand::Export { tenant, out } => {
                tenant_move::export(data_dir, store.as_ref(), &tenant, &out).await?
            }
            TenantCommand::Import { file, expect_key } => {
                tenant_move::import(store.as_ref(), &file, expect_key.as_deref()).await?
            }
        }
        Ok(())
    }
    .await;
    store.shutdown().await;
    result
}
