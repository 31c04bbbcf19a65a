//! The `hippo check` command line (`CheckArgs`) and the `run` entry point.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use crate::engine::{self, Options};
use crate::report::{self, docs, OutputFormat};
use crate::rules::Severity;
use crate::suppress::{self, Baseline, BaselineEntry};

/// Arguments of `hippo check`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    about = "HIPAA compliance gate for infrastructure code (Terraform, CloudFormation, Kubernetes, Dockerfiles, ECS task definitions)"
)]
pub struct CheckArgs {
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
}

/// Runs `hippo check` and returns the process exit code:
/// 0 clean, 1 findings at or above `--fail-on`, 2 usage or parse error.
pub fn run(args: &CheckArgs) -> i32 {
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
