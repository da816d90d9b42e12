//! The wasmtime-wasi-http 48 `WasiHttpHooks::send_request` implementation: allowlist check,
//! one DNS resolution, address classification, then a connection to exactly the checked
//! address (TLS with SNI = the requested host), with timeouts and a response-size cap; and,
//! when the store gave it a [`CallBudget`], the call's budget of requests and body bytes.

//! [`EgressHooks`]: the outgoing-request hook a store's `WasiHttpView` hands to wasi-http.

use std::future::{poll_fn, Future};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use http::{Request, Response};
use http_body_util::BodyExt;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at, Instant};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::body::{CappedBody, MeteredBody};
use crate::budget::CallBudget;
use crate::classify::classify;
use crate::policy::{EgressPolicy, Grant, RequestHost, Scheme, Timeouts};
use crate::redact::{redact_headers, RedactedBody};
use crate::resolver::{Resolver, SystemResolver};
use crate::secrets::{Destination, EgressSecrets};

/// The future wasi-http drives after the response head arrived: the connection's I/O.
pub type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// Where a request body's budget refusal text is set (see [`MeteredBody::refused`]).
type Refused = Arc<std::sync::OnceLock<String>>;

/// Response extension naming the socket address the request was sent to, for host logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectedAddr(pub SocketAddr);

/// Setting up an [`EgressHooks`] failed (only TLS configuration can fail).
#[derive(Debug, thiserror::Error)]
#[error("egress for `{component}`: TLS setup failed: {source}; check the certificates given to EgressPolicy::extra_root (DER-encoded CA certificates)")]
pub struct SetupError {
    component: String,
    source: rustls::Error,
}

/// The outgoing-HTTP hook of one component. Cheap to clone (one `Arc`): build it once per
/// component version and clone it into each store, with that call's budget
/// ([`EgressHooks::with_budget`]).
#[derive(Clone)]
pub struct EgressHooks {
    inner: Arc<Inner>,
    budget: Option<CallBudget>,
    secrets: Option<Arc<EgressSecrets>>,
}

/// What every clone of an [`EgressHooks`] shares.
struct Inner {
    policy: EgressPolicy,
    resolver: Arc<dyn Resolver>,
    tls: Arc<ClientConfig>,
}

/// A connected byte stream: plain TCP or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

impl EgressHooks {
    /// Hooks enforcing `policy`, resolving names with the operating system's resolver.
    pub fn new(policy: EgressPolicy) -> Result<Self, SetupError> {
        Self::with_resolver(policy, Arc::new(SystemResolver))
    }

    /// Hooks enforcing `policy`, resolving names with `resolver`.
    pub fn with_resolver(
        policy: EgressPolicy,
        resolver: Arc<dyn Resolver>,
    ) -> Result<Self, SetupError> {
        let tls = tls_config(&policy).map_err(|source| SetupError {
            component: policy.component().to_owned(),
            source,
        })?;
        Ok(EgressHooks {
            inner: Arc::new(Inner {
                policy,
                resolver,
                tls: Arc::new(tls),
            }),
            budget: None,
            secrets: None,
        })
    }

    /// These hooks substituting and redacting `secrets` (see [`crate::secrets`]); an empty
    /// set changes nothing (request bodies then stream unbuffered).
    pub fn with_secrets(mut self, secrets: Arc<EgressSecrets>) -> Self {
        self.secrets = (!secrets.is_empty()).then_some(secrets);
        self
    }

    /// The secrets these hooks substitute, if any.
    pub fn secrets(&self) -> Option<&Arc<EgressSecrets>> {
        self.secrets.as_ref()
    }

    /// These hooks for one call, within `budget`: requests past it are refused before any
    /// DNS lookup or connection, body bytes past it end the body with the budget's error.
    pub fn with_budget(&self, budget: CallBudget) -> Self {
        EgressHooks {
            inner: self.inner.clone(),
            budget: Some(budget),
            secrets: self.secrets.clone(),
        }
    }

    /// The call's budget, if these hooks have one.
    pub fn budget(&self) -> Option<&CallBudget> {
        self.budget.as_ref()
    }

    /// The policy these hooks enforce.
    pub fn policy(&self) -> &EgressPolicy {
        &self.inner.policy
    }

    /// Counts one request against the call's budget (if any): the refusal is the error the
    /// guest gets, before any DNS lookup or connection.
    pub fn take_request(&self) -> Result<(), Error> {
        match &self.budget {
            Some(budget) => budget.take_request(self.inner.policy.component()),
            None => Ok(()),
        }
    }

    /// Sends `request` if the policy allows it: what [`WasiHttpHooks::send_request`] runs
    /// (after [`EgressHooks::take_request`]). Denials come back as the `wasi:http` error the
    /// guest sees (`HTTP-request-denied`, `destination-IP-prohibited`) and are logged with
    /// the key that would allow them.
    pub async fn send(
        &self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<(Response<WasiBody>, IoFuture), Error> {
        let policy = &self.inner.policy;
        let (mut request, refused) = self.metered(request);
        if let Some(reason) = policy.offline_reason() {
            tracing::warn!(
                component = policy.component(),
                // A parsed URI holds visible ASCII only: nothing to escape.
                uri = %request.uri(),
                "outgoing HTTP refused: {reason}"
            );
            return Err(Error::InternalError(Some(reason.to_owned())));
        }
        let uri = request.uri().clone();
        let scheme = uri
            .scheme_str()
            .and_then(Scheme::parse)
            .ok_or(Error::HttpProtocolError)?;
        let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
        if authority.as_str().contains('@') {
            return Err(Error::HttpRequestUriInvalid);
        }
        let host = RequestHost::parse(authority.host()).ok_or(Error::HttpRequestUriInvalid)?;
        let port = authority.port_u16().unwrap_or(scheme.default_port());
        let origin = format!("{}://{host}:{port}", scheme.as_str());

        let grant = policy.check(scheme, &host, port);
        if grant == Grant::Denied {
            tracing::warn!(
                component = policy.component(),
                origin = %origin,
                grant_key = policy.grant_key(),
                "outgoing HTTP denied: `{}` may not reach {origin}; to allow it, add \"{origin}\" to {}",
                policy.component(),
                policy.grant_key(),
            );
            return Err(Error::HttpRequestDenied);
        }
        let limits = effective_timeouts(policy.limits(), options);
        if let Some(secrets) = &self.secrets {
            let to = Destination {
                scheme,
                host: &host,
                port,
                origin: &origin,
            };
            request = secrets.prepare(request, to, limits.first_byte).await?;
        }

        let candidates = self.addresses(&host, port, limits.dns).await?;
        let permitted = self.permitted(&origin, grant, candidates)?;

        let deadline = Instant::now() + limits.connect;
        let (tcp, addr) = timeout_at(deadline, connect_any(&permitted, port))
            .await
            .map_err(|_| Error::ConnectionTimeout)??;
        tracing::debug!(component = policy.component(), origin = %origin, %addr, "egress connected");
        let stream: Box<dyn Stream> = match scheme {
            Scheme::Http => Box::new(tcp),
            Scheme::Https => {
                let name = match &host {
                    RequestHost::Ip(ip) => ServerName::IpAddress((*ip).into()),
                    RequestHost::Name(n) => {
                        ServerName::try_from(n.clone()).map_err(Error::InvalidDnsNameError)?
                    }
                };
                let connector = tokio_rustls::TlsConnector::from(self.inner.tls.clone());
                let tls = timeout_at(deadline, connector.connect(name, tcp))
                    .await
                    .map_err(|_| Error::ConnectionTimeout)?
                    .map_err(Error::Tls)?;
                Box::new(tls)
            }
        };
        let (mut sender, conn) = timeout_at(
            deadline,
            hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)),
        )
        .await
        .map_err(|_| Error::ConnectionTimeout)??;

        // The request line carries only the path; the authority travels in `Host`.
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        *request.uri_mut() = path.parse().map_err(|_| Error::HttpRequestUriInvalid)?;

        let mut conn = Some(Box::pin(conn));
        let mut send = Box::pin(timeout(limits.first_byte, sender.send_request(request)));
        let head = poll_fn(|cx| {
            if let Poll::Ready(out) = send.as_mut().poll(cx) {
                return Poll::Ready(flatten_send(out));
            }
            if let Some(c) = conn.as_mut() {
                if let Poll::Ready(done) = c.as_mut().poll(cx) {
                    conn = None;
                    if let Err(err) = done {
                        return Poll::Ready(Err(Error::Hyper(err)));
                    }
                    // The connection ended: the response is either complete or never comes.
                    if let Poll::Ready(out) = send.as_mut().poll(cx) {
                        return Poll::Ready(flatten_send(out));
                    }
                }
            }
            Poll::Pending
        })
        .await
        .map_err(|err| match refused.as_ref().and_then(|r| r.get()) {
            // The request body ran past the call's budget: say so, not "protocol error".
            Some(text) => Error::InternalError(Some(text.clone())),
            None => err,
        })?;

        if self.secrets.is_some() {
            crate::redact::check_encoding(policy.component(), &origin, head.headers())?;
        }
        let cap = policy.response_cap();
        let mut response = head.map(|body| {
            let body = CappedBody::new(body, cap, limits.between_bytes);
            let body = match &self.budget {
                Some(budget) => body
                    .with_budget(budget.clone(), policy.component())
                    .boxed_unsync(),
                None => body.boxed_unsync(),
            };
            match &self.secrets {
                Some(secrets) => RedactedBody::new(body, secrets.clone()).boxed_unsync(),
                None => body,
            }
        });
        if let Some(secrets) = &self.secrets {
            redact_headers(secrets, response.headers_mut());
        }
        response.extensions_mut().insert(ConnectedAddr(addr));
        let io: IoFuture = Box::new(async move {
            match conn {
                None => Ok(()),
                Some(c) => c.await.map_err(|e| {
                    if e.is_timeout() {
                        Error::HttpResponseTimeout
                    } else {
                        Error::Hyper(e)
                    }
                }),
            }
        });
        Ok((response, io))
    }

    /// `request` with its body counted against the call's budget, and where the body's
    /// refusal text will be (no budget: unchanged).
    fn metered(&self, request: Request<WasiBody>) -> (Request<WasiBody>, Option<Refused>) {
        let Some(budget) = &self.budget else {
            return (request, None);
        };
        let mut refused = None;
        let request = request.map(|body| {
            let body = MeteredBody::new(body, budget.clone(), self.inner.policy.component());
            refused = Some(body.refused());
            body.boxed_unsync()
        });
        (request, refused)
    }

    /// The one DNS answer for `host` (an IP literal is its own answer, no lookup).
    async fn addresses(
        &self,
        host: &RequestHost,
        port: u16,
        limit: Duration,
    ) -> Result<Vec<IpAddr>, Error> {
        let name = match host {
            RequestHost::Ip(ip) => return Ok(vec![*ip]),
            RequestHost::Name(name) => name,
        };
        let answer = timeout(limit, self.inner.resolver.resolve(name, port))
            .await
            .map_err(|_| Error::DnsTimeout)?;
        match answer {
            Ok(ips) if !ips.is_empty() => Ok(ips),
            Ok(_) => Err(dns_error(format!("{name}: no addresses"))),
            Err(err) => Err(dns_error(format!("{name}: {err}"))),
        }
    }

    /// The addresses of the answer that may be connected to: all of them for a literal grant,
    /// otherwise only public ones. None left → `destination-IP-prohibited`, logged.
    fn permitted(
        &self,
        origin: &str,
        grant: Grant,
        candidates: Vec<IpAddr>,
    ) -> Result<Vec<IpAddr>, Error> {
        if grant == Grant::Literal {
            return Ok(candidates);
        }
        let (public, restricted): (Vec<IpAddr>, Vec<IpAddr>) = candidates
            .into_iter()
            .partition(|ip| classify(*ip).is_none());
        if !public.is_empty() {
            return Ok(public);
        }
        let policy = &self.inner.policy;
        let ip = restricted[0];
        let kind = classify(ip).map(|k| k.describe()).unwrap_or("restricted");
        tracing::warn!(
            component = policy.component(),
            origin = %origin,
            address = %ip,
            grant_key = policy.grant_key(),
            "outgoing HTTP refused: `{}` asked for {origin}, which resolves to {ip} ({kind}); \
             a host granted by wildcard may only reach public addresses. To allow it, grant the \
             exact origin (\"{origin}\", not a *. pattern) in {}",
            policy.component(),
            policy.grant_key(),
        );
        Err(Error::DestinationIpProhibited)
    }
}

impl WasiHttpHooks for EgressHooks {
    fn send_request(
        &mut self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Result<(Response<WasiBody>, IoFuture), Error>> + Send> {
        drop(fut);
        // Counted here, synchronously: a refused request costs no task, lookup or socket.
        if let Err(refused) = self.take_request() {
            return Box::new(std::future::ready(Err(refused)));
        }
        let this = self.clone();
        Box::new(async move { this.send(request, options).await })
    }
}

/// The policy's limits, shortened by whatever shorter ones the guest asked for.
fn effective_timeouts(policy: Timeouts, options: Option<RequestOptions>) -> Timeouts {
    let opts = options.unwrap_or_default();
    let min = |limit: Duration, asked: Option<Duration>| asked.map_or(limit, |a| a.min(limit));
    Timeouts {
        dns: policy.dns,
        connect: min(policy.connect, opts.connect_timeout),
        first_byte: min(policy.first_byte, opts.first_byte_timeout),
        between_bytes: min(policy.between_bytes, opts.between_bytes_timeout)
            .max(Duration::from_millis(1)),
    }
}

/// Connects to the first of `ips` (in answer order) that accepts, on `port`.
async fn connect_any(ips: &[IpAddr], port: u16) -> Result<(TcpStream, SocketAddr), Error> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for ip in ips {
        let addr = SocketAddr::new(*ip, port);
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok((stream, addr)),
            Err(err) => last = err,
        }
    }
    Err(Error::Connect(last))
}

/// Turns the outcome of `timeout(send_request)` into the response head or a wasi-http error.
fn flatten_send(
    out: Result<Result<Response<hyper::body::Incoming>, hyper::Error>, tokio::time::error::Elapsed>,
) -> Result<Response<hyper::body::Incoming>, Error> {
    match out {
        Err(_) => Err(Error::ConnectionReadTimeout),
        Ok(Err(err)) if err.is_timeout() => Err(Error::HttpResponseTimeout),
        Ok(Err(err)) => Err(Error::Hyper(err)),
        Ok(Ok(head)) => Ok(head),
    }
}

/// A DNS failure as the guest sees it.
fn dns_error(info: String) -> Error {
    Error::DnsError {
        rcode: Some(info),
        info_code: None,
    }
}

/// TLS client configuration: the public web roots plus the policy's extra roots, ring
/// crypto, HTTP/1.1 only.
fn tls_config(policy: &EgressPolicy) -> Result<ClientConfig, rustls::Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for der in policy.extra_roots() {
        roots.add(der.clone())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
