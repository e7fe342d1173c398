//! Traces over OTLP (docs/OPERATIONS.md, "Traces"): when the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
//! is set, the spans our logs already carry are exported as OpenTelemetry
//! spans, HTTP/protobuf, in batches from the SDK's own thread. The other
//! standard variables (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT`, `OTEL_TRACES_SAMPLER`,
//! `OTEL_BSP_*`) are read by the SDK. A request continues its caller's
//! W3C `traceparent`.

use std::sync::OnceLock;

use actix_web::http::header::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt};
use tracing_subscriber::registry::LookupSpan;

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The target of spans that are logged but never exported (probes).
pub const UNTRACED: &str = "lottery::untraced";

const ENDPOINTS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// Whether spans are being exported (decided once, at start): the request
/// path asks before it does any tracing work of its own.
pub fn exporting() -> bool {
    PROVIDER.get().is_some()
}

/// The layer that exports spans, when an endpoint is set; an endpoint the
/// exporter refuses stops the server at start.
pub(super) fn layer<S>() -> Result<Option<OpenTelemetryLayer<S, SdkTracer>>, String>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let configured = ENDPOINTS
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if !configured {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|err| format!("OTEL_EXPORTER_OTLP_ENDPOINT: {err}"))?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("lottery");
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("lottery");
    let _ = PROVIDER.set(provider);
    Ok(Some(tracing_opentelemetry::layer().with_tracer(tracer)))
}

/// The current span while exporting (to link to later), else none.
pub fn current_if_exporting() -> tracing::Span {
    if exporting() {
        tracing::Span::current()
    } else {
        tracing::Span::none()
    }
}

/// A span of its own for work that goes on outside any request (a call
/// to the database, Redis or WeChat) while exporting: `make` runs only
/// then, so the path pays nothing otherwise. Its parent is the current
/// span (the request's, when one is being served).
pub fn child(make: impl FnOnce() -> tracing::Span) -> tracing::Span {
    if exporting() {
        make()
    } else {
        tracing::Span::none()
    }
}

/// The span of a write an actor does for the requests it gathered
/// (`senders`, their spans): a child of the first, so its trace shows the
/// write it waited for, linked from the others (OpenTelemetry links).
pub fn linked(senders: Vec<tracing::Span>, make: impl FnOnce() -> tracing::Span) -> tracing::Span {
    let Some(first) = senders.first() else {
        return child(make);
    };
    let span = first.in_scope(make);
    for other in &senders[1..] {
        span.follows_from(other);
    }
    span
}

/// Sends the spans still in the batch (at shutdown).
pub fn flush() {
    if let Some(provider) = PROVIDER.get() {
        if let Err(err) = provider.force_flush() {
            eprintln!("lottery: traces not all sent: {err}");
        }
    }
}

/// Makes `span` (not yet entered) a child of the caller's span named by
/// `traceparent` (and `tracestate`); without a valid one it starts a
/// trace. Returns the trace id, for the logs.
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) -> Option<String> {
    let caller = TraceContextPropagator::new().extract(&Headers(headers));
    if caller.span().span_context().is_valid() {
        let _ = span.set_parent(caller);
    }
    let context = span.context();
    let own = context.span().span_context().clone();
    own.is_valid().then(|| own.trace_id().to_string())
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}
