//! `hippo check`: a HIPAA compliance gate for infrastructure code.
//!
//! The lead mounts [`CheckArgs`] as the `hippo check` subcommand and calls [`run`].

pub mod attest;
pub mod cfn;
pub mod cli;
pub mod discover;
pub mod docker;
pub mod ecs;
pub mod engine;
pub mod error;
pub mod exceptions;
pub mod findings;
pub mod gitinfo;
pub mod intake;
pub mod k8s;
pub mod kustomize;
pub mod model;
pub mod parse;
pub mod pipeline;
pub mod rego;
pub mod report;
pub mod rules;
pub mod secrets;
pub mod suppress;
pub mod terraform;

pub use cli::{run, CheckArgs};
pub use report::OutputFormat;
pub use rules::Severity;
