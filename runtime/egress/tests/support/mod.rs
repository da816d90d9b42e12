//! Shared fixtures for the egress tests: a tiny HTTP(S) server on a loopback address that
//! names itself in its answers and records connections and TLS server names, request
//! builders, and a log capture for asserting denial messages.

#![allow(dead_code)]

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, WasiBody};

/// The test CA that signed the `svc.test` / `127.0.0.1` server certificate.
pub fn test_ca() -> CertificateDer<'static> {
    CertificateDer::from(include_bytes!("../certs/ca.der").to_vec())
}

/// What a test server saw.
#[derive(Default)]
pub struct Seen {
    /// Number of accepted TCP connections.
    pub connections: usize,
    /// The SNI names of TLS handshakes (`None` when the client sent none).
    pub sni: Vec<Option<String>>,
}

/// A running test server.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it has seen so far.
    pub seen: Arc<Mutex<Seen>>,
}

impl Server {
    /// Accepted connections so far.
    pub fn connections(&self) -> usize {
        self.seen.lock().unwrap().connections
    }
}

/// Starts a plain HTTP server on `ip:port` (port 0 = any) answering as `label`.
pub async fn serve(ip: &str, port: u16, label: &'static str) -> Server {
    start(ip, port, label, None).await
}

/// Starts an HTTPS server (test certificate for `svc.test` and 127.0.0.1) answering as `label`.
pub async fn serve_tls(ip: &str, port: u16, label: &'static str) -> Server {
    let cert = CertificateDer::from(include_bytes!("../certs/leaf.der").to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        include_bytes!("../certs/leaf.key.der").to_vec(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    start(ip, port, label, Some(Arc::new(config))).await
}

async fn start(
    ip: &str,
    port: u16,
    label: &'static str,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Server {
    let listener = TcpListener::bind((ip, port)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            seen2.lock().unwrap().connections += 1;
            let seen3 = seen2.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| answer(label, req));
                let builder = hyper::server::conn::http1::Builder::new();
                match tls {
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                    }
                    Some(config) => {
                        let acceptor = tokio_rustls::TlsAcceptor::from(config);
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let sni = stream.get_ref().1.server_name().map(str::to_owned);
                        seen3.lock().unwrap().sni.push(sni);
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
            });
        }
    });
    Server { addr, seen }
}

/// `/big` → 100 KiB; `/slow` → answers after 2 s; anything else → "<label> <method> <path>
/// host=<Host header>".
async fn answer(
    label: &'static str,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let body = match path.as_str() {
        "/big" => vec![b'x'; 100 * 1024],
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            b"late".to_vec()
        }
        _ => {
            let host = req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("-");
            format!("{label} {} {path} host={host}", req.method()).into_bytes()
        }
    };
    Ok(Response::builder()
        .header("x-served-by", label)
        .body(Full::new(Bytes::from(body)))
        .unwrap())
}

/// A GET for `url` as wasi-http hands it to the hook (with the `Host` header it sets).
pub fn get(url: &str) -> Request<WasiBody> {
    let uri: http::Uri = url.parse().unwrap();
    let host = uri.authority().unwrap().as_str().to_owned();
    Request::builder()
        .uri(uri)
        .header(http::header::HOST, host)
        .body(
            Empty::<Bytes>::new()
                .map_err(|never: Infallible| match never {})
                .boxed_unsync(),
        )
        .unwrap()
}

/// Reads a whole response body, driving the connection's I/O future alongside.
pub async fn body_text(
    (response, io): (Response<WasiBody>, molecule_egress::IoFuture),
) -> Result<String, Error> {
    tokio::spawn(async move {
        let _ = std::pin::Pin::from(io).await;
    });
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Log lines written while the guard lives (this thread only, so use a current-thread
/// runtime).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Captures `warn` and above on this thread until the guard drops.
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
