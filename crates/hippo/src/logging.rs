//! Log and trace set-up: JSON lines on stderr for the server (and, when configured, its spans
//! exported over OTLP), terse text for CLI commands, and a panic hook that reports where a
//! panic happened but never its message (which could hold PHI).

use anyhow::Result;
use hippo_server::config::LogConfig;
use hippo_telemetry::TracingSettings;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Spans exported to OpenTelemetry: the server's own (request, policy, store, audit jobs),
/// whatever the log level, and nothing from libraries.
const TRACE_TARGETS: &str =
    "hippo::http=info,hippo::policy=info,hippo::store=info,hippo::audit=info";

/// The targets whose spans start a trace: requests and the audit jobs. Policy and store spans
/// are only ever exported inside one of these.
const TRACE_ROOTS: &[&str] = &["hippo::http", "hippo::audit"];

/// Sets up logging, and trace export when `tracing.otlp_endpoint` is set. Returns the tracer
/// provider, to be shut down (flushing spans) when the server stops. Call inside Tokio.
pub fn init_server(
    cfg: &LogConfig,
    tracing_cfg: &TracingSettings,
) -> Result<Option<SdkTracerProvider>> {
    let filter = EnvFilter::try_new(format!("{},hyper=warn,rustls=warn", cfg.level.as_str()))?;
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if cfg.format == hippo_server::config::LogFormat::Json {
        fmt.json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .boxed()
    } else {
        fmt.boxed()
    };
    let provider = hippo_telemetry::otlp::provider(tracing_cfg)
        .map_err(|e| anyhow::anyhow!("cannot set up trace export: {e}"))?;
    // `Targets`, not `EnvFilter`: a per-layer filter runs for every span and event, and a
    // static target list is a few string comparisons where an EnvFilter matches directives.
    // The sampler decides per request before the OpenTelemetry layer sees anything.
    let targets: tracing_subscriber::filter::Targets = TRACE_TARGETS
        .parse()
        .map_err(|e| anyhow::anyhow!("trace targets: {e}"))?;
    let sampler =
        hippo_telemetry::otlp::HeadSampler::new(targets, TRACE_ROOTS, tracing_cfg.sample_ratio);
    let otel = provider
        .as_ref()
        .map(|p| hippo_telemetry::otlp::layer(p).with_filter(sampler));
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))?;
    Ok(provider)
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
