//! The `hippo check` command line (`CheckArgs`) and the `run` entry point.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use crate::attest::{
    self,
    verify::{self, VerifyArgs},
};
use crate::engine::{self, Options};
use crate::report::{self, docs, OutputFormat};
use crate::rules::Severity;
use crate::suppress::{self, Baseline, BaselineEntry};

/// Arguments of `hippo check`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    about = "HIPAA compliance gate for infrastructure code (Terraform, CloudFormation, Kubernetes, Dockerfiles, ECS task definitions, GitHub Actions and GitLab CI pipelines)",
    args_conflicts_with_subcommands = true
)]
pub struct CheckArgs {
    #[command(subcommand)]
    pub command: Option<CheckCommand>,

    /// Files or directories to scan (directories are walked, honouring .gitignore)
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,

    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Exit with code 1 if any unsuppressed finding has this severity or higher
    #[arg(long, value_enum, value_name = "SEVERITY", default_value_t = Severity::Low)]
    pub fail_on: Severity,

    /// Directory of custom Rego policies (package with a `deny` set) evaluated in-process
    #[arg(long, value_name = "DIR")]
    pub rules_dir: Option<PathBuf>,

    /// Baseline file of accepted findings (JSON); each entry needs a reason and may have an until date
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Write the current unsuppressed findings to FILE as a baseline (reasons left empty to be filled in)
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Write the report to FILE instead of standard output
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// List the rule pack (use --format markdown to generate docs/rules.md) and exit
    #[arg(long)]
    pub list_rules: bool,

    /// Also show suppressed findings in text output
    #[arg(long)]
    pub show_suppressed: bool,

    /// Never colour text output
    #[arg(long)]
    pub no_color: bool,

    /// Also write signed evidence to DIR: evidence.json (files and their SHA-256, findings,
    /// suppressions, rule pack, commit), its Ed25519 signature, the public key and the report
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,

    /// Ed25519 key signing the evidence: PKCS#8 PEM (`openssl genpkey -algorithm ed25519`) or
    /// a raw 32-byte seed. Without it a fresh key is used: integrity only, not origin
    #[arg(long, value_name = "FILE", requires = "evidence")]
    pub signing_key: Option<PathBuf>,
}

/// Subcommands of `hippo check`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CheckCommand {
    /// Check a bundle written by `--evidence`: its signature, its report, and that every
    /// scanned file still has the recorded SHA-256 (exit 1 on any mismatch)
    VerifyEvidence(VerifyArgs),
}

/// Runs `hippo check` and returns the process exit code:
/// 0 clean, 1 findings at or above `--fail-on`, 2 usage or parse error.
pub fn run(args: &CheckArgs) -> i32 {
    if let Some(CheckCommand::VerifyEvidence(v)) = &args.command {
        return verify::run(v);
    }
    if args.list_rules {
        let text = match args.format {
            OutputFormat::Markdown | OutputFormat::Html => docs::markdown(),
            OutputFormat::Json | OutputFormat::Sarif => docs::json(),
            _ => docs::text(),
        };
        return emit(args, &text).map(|_| 0).unwrap_or(2);
    }
    let opts = Options {
        paths: args.paths.clone(),
        rules_dir: args.rules_dir.clone(),
        baseline: args.baseline.clone(),
        today: suppress::today(),
    };
    let outcome = match engine::scan(&opts) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("hippo check: {e}");
            return 2;
        }
    };
    if let Some(path) = &args.write_baseline {
        let b = Baseline {
            version: 1,
            entries: outcome
                .findings
                .iter()
                .filter(|f| f.suppressed.is_none())
                .map(|f| BaselineEntry {
                    fingerprint: f.fingerprint.clone(),
                    rule_id: f.rule_id.to_string(),
                    path: f.file.to_string(),
                    reason: String::new(),
                    until: None,
                })
                .collect(),
        };
        if let Err(e) = std::fs::write(path, serde_json::to_string_pretty(&b).unwrap_or_default()) {
            eprintln!("hippo check: cannot write {}: {e}", path.display());
            return 2;
        }
    }
    let color = args.output.is_none()
        && !args.no_color
        && std::env::var_os("NO_COLOR").is_none()
        && std::io::stdout().is_terminal();
    let written = open_output(args).and_then(|mut w| {
        report::write(&outcome, args.format, color, args.show_suppressed, &mut w)?;
        w.flush()
    });
    if let Err(e) = written {
        eprintln!("hippo check: cannot write the report: {e}");
        return 2;
    }
    if let Some(dir) = &args.evidence {
        match attest::write(&outcome, dir, args.signing_key.as_deref()) {
            Ok(w) if w.generated_key => eprintln!(
                "hippo check: evidence signed in {} with a fresh key {} (public key beside it): this proves integrity, not origin; use --signing-key for that",
                w.dir.display(),
                w.fingerprint
            ),
            Ok(w) => eprintln!(
                "hippo check: evidence signed in {} with key {}",
                w.dir.display(),
                w.fingerprint
            ),
            Err(e) => {
                eprintln!("hippo check: cannot write evidence: {e}");
                return 2;
            }
        }
    }
    for e in &outcome.errors {
        eprintln!("hippo check: parse error: {e}");
    }
    if !outcome.errors.is_empty() {
        return 2;
    }
    let failing = outcome
        .findings
        .iter()
        .any(|f| f.suppressed.is_none() && f.severity >= args.fail_on);
    i32::from(failing)
}

fn open_output(args: &CheckArgs) -> std::io::Result<Box<dyn Write>> {
    Ok(match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

fn emit(args: &CheckArgs, text: &str) -> Result<(), ()> {
    match &args.output {
        Some(p) => std::fs::write(p, text)
            .map_err(|e| eprintln!("hippo check: cannot write {}: {e}", p.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
