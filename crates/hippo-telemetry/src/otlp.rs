//! OpenTelemetry trace export: spans of the `tracing` instrumentation, sampled, sent as OTLP
//! over HTTP with JSON bodies. Off unless an endpoint is configured.
//!
//! Spans carry what the access log carries (route template, method, status, request id, ids
//! of tenant and principal) and nothing else: handlers never put bodies, names or query values
//! in span fields, and the canary test reads what the collector receives.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tracing::subscriber::Interest;
use tracing::Metadata;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

/// `[tracing]` in the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracingSettings {
    /// OTLP/HTTP traces endpoint, e.g. `http://127.0.0.1:4318/v1/traces` (an ADOT or
    /// OpenTelemetry collector sidecar). Unset: no trace export.
    pub otlp_endpoint: Option<String>,
    /// Fraction of traces kept (0.0 to 1.0), decided once per request (or background job)
    /// when its root span starts; every span inside a kept request is kept with it.
    pub sample_ratio: f64,
    /// `service.name` of the exported spans.
    pub service_name: String,
}

impl Default for TracingSettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            sample_ratio: 0.01,
            service_name: "hippo".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TracingError {
    #[error("tracing.otlp_endpoint: {0}")]
    Endpoint(String),
    #[error("tracing.sample_ratio must be between 0.0 and 1.0, not {0}")]
    Ratio(f64),
}

/// Checks the settings (at start, with the rest of the configuration).
pub fn validate(s: &TracingSettings) -> Result<(), TracingError> {
    if !(0.0..=1.0).contains(&s.sample_ratio) || s.sample_ratio.is_nan() {
        return Err(TracingError::Ratio(s.sample_ratio));
    }
    if let Some(e) = &s.otlp_endpoint {
        let url = reqwest::Url::parse(e)
            .map_err(|err| TracingError::Endpoint(format!("not a URL ({err})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TracingError::Endpoint("must be http:// or https://".into()));
        }
    }
    Ok(())
}

/// The exporter's HTTP client: the workspace's reqwest, with every request run on the Tokio
/// runtime that built it (the SDK's batch processor calls from its own thread, outside Tokio).
#[derive(Debug, Clone)]
struct TokioClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for TokioClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request: reqwest::Request = request.try_into()?;
        let client = self.client.clone();
        let answer = self
            .runtime
            .spawn(async move {
                let resp = client.execute(request).await?;
                let status = resp.status();
                let body = resp.bytes().await?;
                Ok::<_, reqwest::Error>((status, body))
            })
            .await??;
        Ok(Response::builder().status(answer.0).body(answer.1)?)
    }
}

/// Builds the tracer provider, or `None` when export is off. Call inside a Tokio runtime.
pub fn provider(s: &TracingSettings) -> Result<Option<SdkTracerProvider>, TracingError> {
    validate(s)?;
    let Some(endpoint) = &s.otlp_endpoint else {
        return Ok(None);
    };
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| TracingError::Endpoint(format!("cannot build the HTTP client: {e}")))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(TokioClient {
            client,
            runtime: tokio::runtime::Handle::current(),
        })
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(endpoint.clone())
        .build()
        .map_err(|e| TracingError::Endpoint(e.to_string()))?;
    // Sampling is decided before a span reaches OpenTelemetry (see [`HeadSampler`]): whatever
    // arrives here was kept.
    let sampler = Sampler::AlwaysOn;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(sampler)
        .with_resource(
            Resource::builder()
                .with_service_name(s.service_name.clone())
                .build(),
        )
        .build();
    Ok(Some(provider))
}

/// The `tracing` layer that turns spans into OpenTelemetry spans of `provider`.
pub fn layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber_layer::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber_layer::LookupSpan<'a>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("hippo"))
}

/// Head sampling as a per-layer filter of the OpenTelemetry layer: a root span (a request, a
/// background job: a span of one of `root_targets`) is kept for `ratio` of them, and a span or
/// event of `targets` inside a kept one is kept with it. Only root targets start traces: a
/// store or policy span whose request was dropped is dropped with it (the filter sees only the
/// spans it kept, so without this such a span would look like a root of its own). An unsampled request therefore never reaches the
/// OpenTelemetry layer at all (no span data built, no ids drawn), which is what keeps tracing
/// at 1% nearly free; the SDK's own ratio sampler decides only after that work is done.
///
/// The choice is deterministic spacing rather than a coin: of every `1/ratio` roots exactly one
/// is kept, so a low ratio still yields a steady trickle of traces under any load.
pub struct HeadSampler {
    targets: Targets,
    root_targets: &'static [&'static str],
    ratio: f64,
    roots: AtomicU64,
}

impl HeadSampler {
    pub fn new(targets: Targets, root_targets: &'static [&'static str], ratio: f64) -> Self {
        Self {
            targets,
            root_targets,
            ratio: ratio.clamp(0.0, 1.0),
            roots: AtomicU64::new(0),
        }
    }

    /// Whether the next root is kept: true when `n * ratio` crosses an integer.
    fn keep_root(&self) -> bool {
        let n = self.roots.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * self.ratio).floor() > (n * self.ratio).floor()
    }
}

impl<S> Filter<S> for HeadSampler
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        if !self.targets.would_enable(meta.target(), meta.level()) {
            return false;
        }
        // The context is filtered by this filter: it only finds spans this filter kept.
        if cx.lookup_current().is_some() {
            return true;
        }
        meta.is_span() && self.root_targets.contains(&meta.target()) && self.keep_root()
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.targets.would_enable(meta.target(), meta.level()) {
            // Decided per span, not per call site.
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }
}

/// Re-exports so the binary names the layer traits without its own dependency juggling.
pub mod tracing_subscriber_layer {
    pub use tracing_subscriber::registry::LookupSpan;
    pub use tracing_subscriber::Layer;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    /// Counts the spans that reach it, by name.
    #[derive(Clone, Default)]
    struct Seen(Arc<std::sync::Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> Layer<S> for Seen {
        fn on_new_span(
            &self,
            attrs: &tracing::span::Attributes<'_>,
            _: &tracing::span::Id,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            self.0
                .lock()
                .unwrap()
                .push(attrs.metadata().name().to_owned());
        }
    }

    fn run(ratio: f64, requests: usize) -> Vec<String> {
        let seen = Seen::default();
        let targets: Targets = "hippo::http=info,hippo::store=info".parse().unwrap();
        let subscriber = tracing_subscriber::registry().with(
            seen.clone()
                .with_filter(HeadSampler::new(targets, &["hippo::http"], ratio)),
        );
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..requests {
                let root = tracing::info_span!(target: "hippo::http", "request");
                let _in = root.enter();
                let _store = tracing::info_span!(target: "hippo::store", "store").entered();
                let _lib = tracing::info_span!(target: "hyper", "library").entered();
            }
        });
        let names = seen.0.lock().unwrap().clone();
        names
    }

    #[test]
    fn one_request_in_a_hundred_is_kept_whole_and_nothing_else() {
        let names = run(0.01, 1000);
        assert_eq!(names.iter().filter(|n| *n == "request").count(), 10);
        assert_eq!(names.iter().filter(|n| *n == "store").count(), 10);
        assert!(!names.iter().any(|n| n == "library"), "{names:?}");
    }

    #[test]
    fn the_bounds_keep_everything_or_nothing() {
        assert_eq!(run(1.0, 50).len(), 100);
        assert!(run(0.0, 50).is_empty());
    }
}
