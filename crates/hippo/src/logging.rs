//! Log set-up: JSON lines on stderr for the server, terse text for CLI commands, and a panic
//! hook that reports where a panic happened but never its message (which could hold PHI).

use anyhow::Result;
use hippo_server::config::LogConfig;
use tracing_subscriber::EnvFilter;

pub fn init_server(cfg: &LogConfig) -> Result<()> {
    let filter = EnvFilter::try_new(format!("{},hyper=warn,rustls=warn", cfg.level.as_str()))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if cfg.format == hippo_server::config::LogFormat::Json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

pub fn init_cli() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_else(|| "unknown location".into());
        eprintln!("{{\"level\":\"ERROR\",\"message\":\"panic (message withheld: it may contain PHI)\",\"location\":\"{location}\"}}");
    }));
}
