//! OpenTelemetry trace export: when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, the runtime's `tracing` spans (`task`,
//! `tool_call`, …) are sent to that collector as OTLP spans over HTTP, following the
//! OpenTelemetry environment-variable conventions. Configuration mistakes there are reported as
//! warnings and turn export off; they never stop the runtime. With `LANGFUSE_HOST` and its keys
//! set, the same spans also go to Langfuse (`langfuse.rs`), which fails closed instead.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Key, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use super::langfuse;

/// The base URL of the collector; `/v1/traces` is appended for traces.
const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The full URL traces are posted to, used as-is (wins over [`ENDPOINT`]).
const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
const TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// The `service.name` when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` names one.
const DEFAULT_SERVICE_NAME: &str = "molecule-runtime";
/// What the OpenTelemetry layer records, whatever `LOG_LEVEL` says: INFO spans and up, minus
/// the exporter's own crates so that exporting never produces more telemetry.
const EXPORT_FILTER: &str = "info,opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off,\
                             opentelemetry_http=off,reqwest=off,hyper=off,hyper_util=off,h2=off,rmcp=warn";

/// A `tracing` layer over the `Registry`, boxed so layers of different types compose.
pub type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Trace export as configured by the environment: the layer to add (if export is on), the
/// guard that flushes on drop, and warnings to log once the subscriber is installed.
pub struct Telemetry {
    /// The OpenTelemetry layer, `None` when export is off.
    pub layer: Option<BoxedLayer>,
    /// Flushes and shuts down the exporter when dropped.
    pub guard: TelemetryGuard,
    /// Configuration problems, for `tracing::warn!` once logging works.
    pub warnings: Vec<String>,
}

/// Keeps the tracer provider alive; dropping it exports the spans still queued and shuts the
/// exporter down (bounded by the SDK's shutdown timeout, so an unreachable collector cannot
/// hold the process for long). Keep it until the process exits.
#[must_use = "dropping the guard stops trace export"]
#[derive(Default)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(err) = provider.shutdown() {
                tracing::warn!("OTLP trace export did not finish: {err}");
            }
        }
    }
}

/// Reads the `OTEL_*` and `LANGFUSE_*` environment and builds the exporters that are
/// configured: one tracer provider, one batch processor per destination.
///
/// # Errors
/// The Langfuse variables are set but unusable (see [`langfuse::from_vars`]): the text names
/// the variable. `OTEL_*` problems are warnings instead, as before.
pub fn from_env() -> Result<Telemetry, String> {
    let langfuse = langfuse::from_vars(env_var)?;
    let mut telemetry = Telemetry {
        layer: None,
        guard: TelemetryGuard::default(),
        warnings: Vec::new(),
    };
    let mut builder = SdkTracerProvider::builder().with_resource(resource());
    let mut exporters = 0;
    if let Some(exporter) = otlp_exporter(&mut telemetry.warnings) {
        builder = builder.with_batch_exporter(exporter);
        exporters += 1;
    }
    if let Some(config) = &langfuse {
        builder = builder.with_batch_exporter(langfuse::exporter(config)?);
        exporters += 1;
    }
    if exporters > 0 {
        let provider = builder.build();
        telemetry.layer = Some(layer(&provider));
        telemetry.guard.provider = Some(provider);
    }
    Ok(telemetry)
}

/// The OTLP exporter the `OTEL_*` variables describe, `None` (with a warning when they are
/// malformed) when export to a collector is off.
fn otlp_exporter(warnings: &mut Vec<String>) -> Option<opentelemetry_otlp::SpanExporter> {
    let endpoint = match traces_endpoint(env_var)? {
        Ok(endpoint) => endpoint,
        Err(warning) => {
            warnings.push(warning);
            return None;
        }
    };
    let protocol = protocol(env_var, warnings);
    match exporter(&endpoint, protocol) {
        Ok(exporter) => Some(exporter),
        Err(err) => {
            warnings.push(format!(
                "OTLP trace export is off: cannot build the exporter for {endpoint}: {err}"
            ));
            None
        }
    }
}

/// A non-empty environment variable.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The URL traces go to: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as-is, else
/// `OTEL_EXPORTER_OTLP_ENDPOINT` plus `/v1/traces`; `None` when neither is set, an error
/// (the warning) when the URL is not a valid http(s) URL.
fn traces_endpoint(var: impl Fn(&str) -> Option<String>) -> Option<Result<String, String>> {
    if let Some(url) = var(TRACES_ENDPOINT) {
        return Some(check_url(TRACES_ENDPOINT, &url).map(|()| url));
    }
    let base = var(ENDPOINT)?;
    Some(check_url(ENDPOINT, &base).map(|()| format!("{}/v1/traces", base.trim_end_matches('/'))))
}

/// Whether `url` (the value of `name`) is an absolute http or https URL with a host.
fn check_url(name: &str, url: &str) -> Result<(), String> {
    let problem = match reqwest::Url::parse(url) {
        Err(err) => err.to_string(),
        Ok(u) if !matches!(u.scheme(), "http" | "https") => {
            format!("scheme `{}` is not http or https", u.scheme())
        }
        Ok(u) if u.host_str().is_none_or(str::is_empty) => "no host".to_owned(),
        Ok(_) => return Ok(()),
    };
    Err(format!(
        "{name}=`{url}` is not a valid collector URL ({problem}); OTLP trace export is off"
    ))
}

/// The OTLP protocol: `http/protobuf` (default) or `http/json`; anything else, `grpc`
/// included, falls back to `http/protobuf` with a warning.
fn protocol(var: impl Fn(&str) -> Option<String>, warnings: &mut Vec<String>) -> Protocol {
    let Some((name, value)) = [TRACES_PROTOCOL, PROTOCOL]
        .into_iter()
        .find_map(|name| Some((name, var(name)?)))
    else {
        return Protocol::HttpBinary;
    };
    match value.as_str() {
        "http/protobuf" => Protocol::HttpBinary,
        "http/json" => Protocol::HttpJson,
        "grpc" => {
            warnings.push(format!(
                "{name}=grpc is not supported (molecule-runtime exports OTLP over HTTP only); \
                 using http/protobuf — point the endpoint at the collector's HTTP port (4318)"
            ));
            Protocol::HttpBinary
        }
        other => {
            warnings.push(format!(
                "{name}=`{other}` is not a known OTLP protocol (http/protobuf or http/json); \
                 using http/protobuf"
            ));
            Protocol::HttpBinary
        }
    }
}

/// The OTLP/HTTP exporter to `endpoint`. It is batched by the provider, which exports from its
/// own thread with a blocking client, so it works the same under the tokio runtime and in
/// synchronous code. Headers and timeout come from the standard
/// `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS` / `_TIMEOUT` variables, read by the exporter.
fn exporter(
    endpoint: &str,
    protocol: Protocol,
) -> Result<opentelemetry_otlp::SpanExporter, opentelemetry_otlp::ExporterBuildError> {
    opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .with_endpoint(endpoint)
        .build()
}

/// The resource: what `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` say, with
/// `service.name` defaulting to `molecule-runtime` and `service.version` to this build's.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let has = |key: &'static str| detected.get(&Key::from_static_str(key));
    let mut builder = Resource::builder();
    if has("service.name").is_none_or(|name| name.as_str().starts_with("unknown_service")) {
        builder = builder.with_service_name(DEFAULT_SERVICE_NAME);
    }
    if has("service.version").is_none() {
        builder =
            builder.with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    }
    builder.build()
}

/// The `tracing` → OpenTelemetry layer over `provider`, with its own level filter.
fn layer(provider: &SdkTracerProvider) -> BoxedLayer {
    let filter = EnvFilter::try_new(EXPORT_FILTER).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("molecule-runtime"))
        .with_filter(filter)
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn base_endpoint_gets_the_traces_path() {
        let got = traces_endpoint(vars(&[(ENDPOINT, "http://collector:4318/")]));
        assert_eq!(got, Some(Ok("http://collector:4318/v1/traces".into())));
        let got = traces_endpoint(vars(&[(ENDPOINT, "https://c.example/otlp")]));
        assert_eq!(got, Some(Ok("https://c.example/otlp/v1/traces".into())));
    }

    #[test]
    fn traces_endpoint_is_used_as_is_and_wins() {
        let env = [(ENDPOINT, "http://a:4318"), (TRACES_ENDPOINT, "http://b/x")];
        assert_eq!(traces_endpoint(vars(&env)), Some(Ok("http://b/x".into())));
        assert_eq!(traces_endpoint(vars(&[])), None);
    }

    #[test]
    fn bad_urls_name_the_variable() {
        for bad in ["not a url", "ftp://host", "localhost:4318"] {
            let got = traces_endpoint(vars(&[(ENDPOINT, bad)]));
            let warning = got.unwrap().unwrap_err();
            assert!(warning.contains(ENDPOINT), "{warning}");
        }
    }

    #[test]
    fn protocols_and_the_grpc_fallback() {
        let mut warnings = Vec::new();
        let json = protocol(vars(&[(PROTOCOL, "http/json")]), &mut warnings);
        assert!(matches!(json, Protocol::HttpJson));
        assert!(matches!(
            protocol(vars(&[]), &mut warnings),
            Protocol::HttpBinary
        ));
        assert!(warnings.is_empty());
        let grpc = protocol(vars(&[(PROTOCOL, "grpc")]), &mut warnings);
        assert!(matches!(grpc, Protocol::HttpBinary));
        assert!(warnings[0].contains(PROTOCOL), "{warnings:?}");
    }
}
