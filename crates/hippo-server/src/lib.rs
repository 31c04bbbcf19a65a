//! Hippo's server: configuration, first-run initialisation, TLS, and the HTTP API over the store.

pub mod audit_jobs;
pub mod auth;
pub mod backup_job;
pub mod config;
pub mod connections;
pub mod ctx;
pub mod documents_setup;
pub mod h1_errors;
pub mod init;
pub mod limits;
pub mod middleware;
pub mod openapi;
pub mod problem;
pub mod ratelimit;
pub mod routes;
pub mod serve;
pub mod state;
pub mod telemetry;
pub mod tls;

pub use config::{Config, ConfigError};
pub use problem::ApiError;
pub use state::AppState;
