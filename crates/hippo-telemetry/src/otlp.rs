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
use std::time::Duration;

/// `[tracing]` in the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracingSettings {
    /// OTLP/HTTP traces endpoint, e.g. `http://127.0.0.1:4318/v1/traces` (an ADOT or
    /// OpenTelemetry collector sidecar). Unset: no trace export.
    pub otlp_endpoint: Option<String>,
    /// Fraction of traces kept (0.0 to 1.0); a request whose caller sent a sampled
    /// `traceparent` is kept whatever this says.
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
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(s.sample_ratio)));
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

/// Re-exports so the binary names the layer traits without its own dependency juggling.
pub mod tracing_subscriber_layer {
    pub use tracing_subscriber::registry::LookupSpan;
    pub use tracing_subscriber::Layer;
}
