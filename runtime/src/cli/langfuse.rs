//! Langfuse trace export: with `LANGFUSE_HOST`, `LANGFUSE_PUBLIC_KEY` and
//! `LANGFUSE_SECRET_KEY` set, the runtime's spans also go to Langfuse's OpenTelemetry endpoint
//! (`{LANGFUSE_HOST}/api/public/otel/v1/traces`, OTLP/HTTP protobuf, HTTP Basic auth with the
//! public key as user and the secret key as password, `x-langfuse-ingestion-version: 4`; see
//! <https://langfuse.com/integrations/native/opentelemetry>), beside any OTLP collector.
//!
//! Unlike the `OTEL_*` variables this fails closed: a partial set, a malformed host, or a
//! plain-HTTP host that may be on the public internet (the secret key would cross it in clear
//! text; service names, `*.svc`, `*.internal`, `*.local` and private addresses are fine)
//! stops the runtime at start, naming the variable. The exporter's HTTP client
//! sends exactly its own headers, so `OTEL_EXPORTER_OTLP_HEADERS` (meant for the other
//! collector) never reaches Langfuse.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};

/// The Langfuse base URL (`https://cloud.langfuse.com`, a self-hosted `https://…`, or plain
/// `http://` to a host off the public internet: `http://localhost:3000`, the seed's
/// in-cluster `http://langfuse-web:3000`).
pub const HOST: &str = "LANGFUSE_HOST";
/// The project's public key (`pk-lf-…`): the Basic-auth user.
pub const PUBLIC_KEY: &str = "LANGFUSE_PUBLIC_KEY";
/// The project's secret key (`sk-lf-…`): the Basic-auth password.
pub const SECRET_KEY: &str = "LANGFUSE_SECRET_KEY";
/// Langfuse's OTLP/HTTP traces path, appended to [`HOST`].
pub const TRACES_PATH: &str = "/api/public/otel/v1/traces";
/// The header Langfuse asks direct OpenTelemetry exporters to send, and its value.
pub const INGESTION_VERSION: (&str, &str) = ("x-langfuse-ingestion-version", "4");
/// The longest key accepted, in bytes.
const MAX_KEY_BYTES: usize = 1024;
/// How long one export request may take (the OTLP default).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to send spans to Langfuse. `Debug` never shows the credentials.
#[derive(Clone)]
pub struct LangfuseConfig {
    /// The full traces URL: [`HOST`] + [`TRACES_PATH`].
    pub endpoint: String,
    /// `Basic base64(public:secret)`, marked sensitive.
    authorization: HeaderValue,
}

impl std::fmt::Debug for LangfuseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LangfuseConfig")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Reads the three variables through `var` (which returns trimmed, non-empty values).
///
/// # Errors
/// Text naming the variable: some but not all three set, a host that is not an absolute URL,
/// carries credentials, a query or a fragment, or is plain `http://` to a host that may be on the
/// public internet (see `molecule_egress::off_the_internet`); a key with control characters or over 1024 bytes; a
/// public key with `:` (it cannot be a Basic-auth user).
pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<LangfuseConfig>, String> {
    let [host, public, secret] = [HOST, PUBLIC_KEY, SECRET_KEY].map(&var);
    if host.is_none() && public.is_none() && secret.is_none() {
        return Ok(None);
    }
    let missing: Vec<&str> = [(HOST, &host), (PUBLIC_KEY, &public), (SECRET_KEY, &secret)]
        .into_iter()
        .filter(|(_, value)| value.is_none())
        .map(|(name, _)| name)
        .collect();
    let (Some(host), Some(public), Some(secret)) = (host, public, secret) else {
        return Err(format!(
            "{} not set: Langfuse export needs all of {HOST}, {PUBLIC_KEY} and {SECRET_KEY} \
             (set the missing ones, or unset all three)",
            missing.join(" and "),
        ));
    };
    check_key(PUBLIC_KEY, &public)?;
    check_key(SECRET_KEY, &secret)?;
    if public.contains(':') {
        return Err(format!(
            "{PUBLIC_KEY} contains `:`, which a Basic-auth user cannot"
        ));
    }
    let endpoint = traces_url(&host)?;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{public}:{secret}"));
    let mut authorization = HeaderValue::from_str(&format!("Basic {token}"))
        .map_err(|_| format!("{SECRET_KEY}: not usable in an HTTP header"))?;
    authorization.set_sensitive(true);
    Ok(Some(LangfuseConfig {
        endpoint,
        authorization,
    }))
}

/// A key's length and characters (its value is never quoted in the error).
fn check_key(name: &str, key: &str) -> Result<(), String> {
    if key.len() > MAX_KEY_BYTES {
        return Err(format!("{name} is longer than {MAX_KEY_BYTES} bytes"));
    }
    if key.chars().any(char::is_control) {
        return Err(format!("{name} contains control characters"));
    }
    Ok(())
}

/// `host` + [`TRACES_PATH`], after the checks listed on [`from_vars`].
fn traces_url(host: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(host).map_err(|e| {
        format!("{HOST} is not an absolute URL ({e}); expected e.g. https://cloud.langfuse.com")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{HOST} must not carry credentials; use {PUBLIC_KEY} and {SECRET_KEY}"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{HOST}=`{host}` must not have a query or fragment"));
    }
    let local = url
        .host_str()
        .is_some_and(molecule_egress::off_the_internet);
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        "http" => {
            return Err(format!(
                "{HOST}=`{host}` is plain http to a host that may be on the public internet: \
                 the secret key would cross it unencrypted; use https (plain http is accepted \
                 only for hosts that cannot be public names: single-label names such as \
                 `langfuse-web`, `*.svc`, `*.svc.cluster.local`, `*.internal`, `*.local`, \
                 `*.home.arpa`, localhost, and loopback, private, unique-local or link-local \
                 IP addresses)"
            ))
        }
        other => return Err(format!("{HOST}=`{host}`: scheme `{other}` is not https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{HOST}=`{host}` has no host"));
    }
    Ok(format!(
        "{}{TRACES_PATH}",
        url.as_str().trim_end_matches('/')
    ))
}

/// The OTLP/HTTP protobuf exporter to Langfuse. Build it outside any tokio runtime (its
/// client is the blocking `reqwest` one, used from the batch processor's own thread).
///
/// # Errors
/// The exporter or its client cannot be built (for example no TLS backend).
pub fn exporter(config: &LangfuseConfig) -> Result<opentelemetry_otlp::SpanExporter, String> {
    let mut builder = reqwest::blocking::Client::builder().timeout(EXPORT_TIMEOUT);
    if config.endpoint.starts_with("http://") {
        // Plain http goes only to a host off the internet: straight there, never through an
        // `http_proxy`, which would see the Basic credentials in clear.
        builder = builder.no_proxy();
    }
    let inner = builder
        .build()
        .map_err(|e| format!("{HOST}: cannot build the HTTP client: {e}"))?;
    let client = LangfuseClient {
        inner,
        authorization: config.authorization.clone(),
    };
    opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(&config.endpoint)
        .with_timeout(EXPORT_TIMEOUT)
        .with_http_client(client)
        .build()
        .map_err(|e| format!("{HOST}: cannot build the exporter: {e}"))
}

/// The exporter's HTTP client: replaces whatever headers the OTLP exporter put on a request
/// (it adds `OTEL_EXPORTER_OTLP_HEADERS`) with the content type and encoding, the Basic auth
/// and the ingestion version only.
struct LangfuseClient {
    inner: reqwest::blocking::Client,
    authorization: HeaderValue,
}

impl std::fmt::Debug for LangfuseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LangfuseClient")
    }
}

#[async_trait::async_trait]
impl HttpClient for LangfuseClient {
    async fn send_bytes(&self, mut request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let headers = request.headers_mut();
        let kept: Vec<_> = [CONTENT_TYPE, CONTENT_ENCODING]
            .into_iter()
            .filter_map(|name| Some((name.clone(), headers.remove(name)?)))
            .collect();
        headers.clear();
        headers.extend(kept);
        headers.insert(AUTHORIZATION, self.authorization.clone());
        let (name, value) = INGESTION_VERSION;
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
        self.inner.send_bytes(request).await
    }
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

    fn error(pairs: &[(&str, &str)]) -> String {
        from_vars(vars(pairs)).unwrap_err()
    }

    #[test]
    fn none_set_is_off_and_all_set_builds_the_endpoint() {
        assert!(from_vars(vars(&[])).unwrap().is_none());
        let env = [
            (HOST, "https://cloud.langfuse.com/"),
            (PUBLIC_KEY, "pk-lf-1"),
            (SECRET_KEY, "sk-lf-2"),
        ];
        let config = from_vars(vars(&env)).unwrap().unwrap();
        assert_eq!(
            config.endpoint,
            "https://cloud.langfuse.com/api/public/otel/v1/traces"
        );
        // base64("pk-lf-1:sk-lf-2")
        assert_eq!(config.authorization, "Basic cGstbGYtMTpzay1sZi0y");
        assert!(config.authorization.is_sensitive());
        assert!(!format!("{config:?}").contains("cGst"));
    }

    #[test]
    fn partial_sets_name_the_missing_variables() {
        let err = error(&[(HOST, "https://lf.example")]);
        assert!(
            err.contains(PUBLIC_KEY) && err.contains(SECRET_KEY),
            "{err}"
        );
        let err = error(&[(PUBLIC_KEY, "pk"), (SECRET_KEY, "sk")]);
        assert!(err.starts_with(HOST), "{err}");
    }

    #[test]
    fn plain_http_is_refused_to_hosts_that_may_be_public() {
        let keys = |host| [(HOST, host), (PUBLIC_KEY, "pk"), (SECRET_KEY, "sk-secret")];
        for public in [
            "http://langfuse.example.com:3000",
            "http://cloud.langfuse.com",
            "http://8.8.8.8",
            "http://[2606:4700::1111]",
            "http://ai.",
            "http://svc.",
            "http://evil.svc.example.com",
            "http://local.example",
            "http://100.64.0.1",
            "http://0.0.0.0:3000",
        ] {
            let err = error(&keys(public));
            assert!(
                err.contains(HOST) && err.contains("use https"),
                "{public}: {err}"
            );
            assert!(!err.contains("sk-secret"), "{err}");
        }
        for local in [
            "http://langfuse-web:3000",
            "http://localhost:3000",
            "http://127.0.0.1:9",
            "http://[::1]:3000",
            "http://langfuse-web.observability.svc:3000",
            "http://langfuse-web.observability.svc.cluster.local:3000",
            "http://langfuse.corp.internal",
            "http://langfuse.local.",
            "http://lf.home.arpa",
            "http://LANGFUSE.LOCAL",
            "http://10.1.2.3:3000",
            "http://172.20.0.5",
            "http://192.168.1.9",
            "http://169.254.1.1",
            "http://[fd00::5]:3000",
            "http://[fe80::1]",
        ] {
            assert!(from_vars(vars(&keys(local))).is_ok(), "{local}");
        }
        for bad in ["ftp://x", "not a url", "https://u:p@x", "https://x/?a=1"] {
            let err = error(&keys(bad));
            assert!(err.contains(HOST), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_keys_are_refused_without_quoting_them() {
        let env = [(HOST, "https://x"), (PUBLIC_KEY, "a:b"), (SECRET_KEY, "s")];
        assert!(error(&env).contains(PUBLIC_KEY));
        let env = [
            (HOST, "https://x"),
            (PUBLIC_KEY, "p"),
            (SECRET_KEY, "s\u{7}x"),
        ];
        let err = error(&env);
        assert!(
            err.contains(SECRET_KEY) && !err.contains("s\u{7}x"),
            "{err}"
        );
    }
}
