//! Command-line arguments.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "hippo",
    version,
    about = "HIPAA-ready health data platform: encrypted, audited, versioned PHI records over HTTPS",
    long_about = "Hippo stores protected health information as versioned JSON records, encrypted at rest (SQLCipher) and in transit (TLS 1.2+), with every access audited.\n\nStart with `hippo serve`: on first run it initialises the data directory and prints an admin API key."
)]
pub struct Cli {
    /// Data directory holding configuration, keys, certificates and databases.
    #[arg(
        long,
        global = true,
        env = "HIPPO_DATA_DIR",
        default_value = "./hippo-data"
    )]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTPS server (initialises the data directory on first run).
    Serve(ServeArgs),
    /// Initialise the data directory without serving: config, keyring, TLS, databases, admin key.
    Init,
    /// Create, list, rotate and revoke service-account API keys.
    #[command(subcommand)]
    Apikey(crate::people_cmd::ApiKeyCommand),
    /// Create, list, disable and reset people's accounts (they sign in with a password and a
    /// second factor).
    #[command(subcommand)]
    User(crate::people_cmd::UserCommand),
    /// Ask the authorization policy questions ("what can a reader of tenant X see?").
    #[command(subcommand)]
    Policy(crate::people_cmd::PolicyCommand),
    /// Create and list tenants (each gets its own encrypted database).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Operator work on stored records: integrity scan, search index rebuild.
    #[command(subcommand)]
    Records(crate::records_cmd::RecordsCommand),
    /// Verify the tamper-evident audit trail, print its public key, prove, sign and export.
    #[command(subcommand)]
    Audit(crate::audit_cmd::AuditCommand),
    /// Keyrings: a new one for scale-out deployments, and sealed escrow copies for recovery.
    #[command(subcommand)]
    Keyring(KeyringCommand),
    /// Document keys: rotate a tenant's key version (rewrapping every document), show
    /// status, crypto-shred a tenant's or one subject's documents.
    #[command(subcommand)]
    Keys(crate::keys_cmd::KeysCommand),
    /// Backups of the embedded store: create, list, verify, restore (to a point in time),
    /// prune, and restore drills that measure RTO and RPO.
    #[command(subcommand)]
    Backup(crate::backup_cmd::BackupCommand),
    /// HIPAA compliance gate for infrastructure code: Terraform, CloudFormation, Kubernetes,
    /// Dockerfiles, ECS task definitions, GitHub Actions and GitLab CI pipelines (exit 1 on
    /// findings, 2 on usage or parse errors); `--evidence DIR` signs what was checked and
    /// `hippo check verify-evidence DIR` verifies it.
    Check(hippo_check::CheckArgs),
    /// Import records into a running server from NDJSON or CSV files (with a column mapping),
    /// in batches, with a progress bar; resumable without duplicates (see --help).
    Import(crate::import_cmd::ImportArgs),
    /// Load-test a running server (durable creates and audited reads over TLS) or the bare store.
    Bench(crate::bench::BenchArgs),
    /// Print the version.
    Version,
    /// Show a running server's health, audit state and alert sinks (needs an auditor or
    /// admin key in HIPPO_API_KEY).
    Status(crate::status_cmd::StatusArgs),
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8443, or `listen` in hippo.toml].
    #[arg(long, env = "HIPPO_LISTEN")]
    pub listen: Option<String>,
    /// Serve plain HTTP instead of HTTPS. Only allowed on a loopback address; for local development.
    #[arg(long)]
    pub insecure_http: bool,
    /// Storage backend [default: sqlite].
    #[arg(long, env = "HIPPO_STORE", value_name = "sqlite|postgres")]
    pub store: Option<hippo_store::StoreKind>,
}

#[derive(Subcommand)]
pub enum KeyringCommand {
    /// Print a new keyring (JSON: key-encryption key and audit signing seed) on stdout, for a
    /// secret store shared by every instance; pipe it so it never lands on disk or in a process
    /// list, e.g. `hippo keyring generate | aws secretsmanager put-secret-value --secret-id ARN
    /// --secret-string file:///dev/stdin`. Instances read it from HIPPO_KEYRING (the JSON) or
    /// keyring_file (a mode-600 file). With --kms-key-id the keyring is sealed by that KMS key
    /// (KMS Encrypt): the secret then reveals nothing without kms:Decrypt, which instances call
    /// at start (and fail to start without).
    Generate {
        #[command(flatten)]
        kms: KmsSealArgs,
    },
    /// Seal an existing plain keyring by a KMS key and print the sealed form on stdout (to put
    /// in the secret store in place of the plain one).
    Seal {
        #[command(flatten)]
        kms: KmsSealArgs,
        /// The plain keyring [default: the data directory's, or its configured keyring_file /
        /// HIPPO_KEYRING].
        #[arg(long, value_name = "FILE")]
        keyring: Option<std::path::PathBuf>,
    },
    /// Write the keyring sealed to a recovery passphrase (Argon2id, AES-256-GCM), read from
    /// HIPPO_ESCROW_PASSPHRASE (at least 16 characters). Without the keyring a backup cannot
    /// be opened: keep this copy apart from the backups (e.g. a Secrets Manager secret
    /// replicated to the recovery region); `hippo backup restore --escrow FILE` uses it.
    Escrow {
        /// The file to write (mode 600; never overwritten).
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
        /// The keyring to seal [default: the data directory's, or its configured keyring_file
        /// / HIPPO_KEYRING].
        #[arg(long, value_name = "FILE")]
        keyring: Option<std::path::PathBuf>,
    },
}

/// Which KMS key seals a keyring, and where KMS is.
#[derive(clap::Args)]
pub struct KmsSealArgs {
    /// The KMS key (id, ARN or alias) that seals the keyring; credentials and region from the
    /// usual AWS variables (AWS_ACCESS_KEY_ID…, AWS_REGION) or the task role.
    #[arg(long, value_name = "KEY")]
    pub kms_key_id: Option<String>,
    /// KMS endpoint override (a VPC endpoint, a test server) [default: AWS_ENDPOINT_URL_KMS,
    /// AWS_ENDPOINT_URL, else KMS in AWS_REGION].
    #[arg(long, value_name = "URL", requires = "kms_key_id")]
    pub kms_endpoint: Option<String>,
}

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant: lowercase letters, digits and '-', starting with a letter.
    Create { name: String },
    /// List tenants.
    List,
    /// Write one tenant's records (every version) and audit log (with its signed tree heads)
    /// as an archive sealed to the passphrase in HIPPO_ARCHIVE_PASSPHRASE (Argon2id,
    /// AES-256-GCM) and signed by this deployment's audit key: for moving the tenant to
    /// another Hippo (either store) or handing it over at off-boarding.
    Export {
        #[arg(long)]
        tenant: hippo_core::TenantId,
        /// The archive file to write (mode 600; never overwritten).
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Import a tenant from an archive (`hippo tenant export`), after checking its signature,
    /// every version's hash and its audit log against its signed heads; refused if the tenant
    /// exists here. The archived log is recorded (size, root, signer) in the new tenant's first
    /// events; keep the archive as the evidence of the history before the move.
    Import {
        /// The archive file.
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
        /// The fingerprint of the key that must have signed it (`hippo audit pubkey` on the
        /// exporting deployment, passed on out of band).
        #[arg(long, value_name = "SHA256:...")]
        expect_key: Option<String>,
    },
}
