//! Tests of the send_request hook against real local servers: granted and denied origins,
//! DNS-rebinding refusal, resolve-once/connect-to-checked-address, HTTPS with SNI, the
//! response-size cap and the first-byte timeout.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use molecule_egress::{ConnectedAddr, EgressHooks, EgressPolicy, StaticResolver, Timeouts};
use support::{body_text, get, serve, serve_tls, test_ca, Logs};
use wasmtime_wasi_http::{Error, WasiHttpHooks};

const LOOPBACK: &str = "127.0.0.1";

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn hooks(hosts: &[String], resolver: Arc<StaticResolver>) -> EgressHooks {
    let policy = EgressPolicy::new("web-fetch", hosts).unwrap_or_else(|e| panic!("{e}"));
    EgressHooks::with_resolver(policy, resolver).unwrap()
}

#[tokio::test]
async fn literal_ip_grant_reaches_the_server_through_the_trait_hook() {
    let server = serve(LOOPBACK, 0, "A").await;
    let port = server.addr.port();
    let resolver = Arc::new(StaticResolver::new());
    let mut hooks = hooks(&[format!("http://127.0.0.1:{port}")], resolver.clone());

    let url = format!("http://127.0.0.1:{port}/hello?x=1");
    let fut = WasiHttpHooks::send_request(&mut hooks, get(&url), None, Box::new(async { Ok(()) }));
    let (response, io) = Pin::from(fut).await.expect("granted request");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.extensions().get::<ConnectedAddr>(),
        Some(&ConnectedAddr(server.addr))
    );
    let text = body_text((response, io)).await.unwrap();
    assert_eq!(text, format!("A GET /hello host=127.0.0.1:{port}"));
    assert_eq!(resolver.calls(), 0, "an IP literal needs no DNS");
}

#[tokio::test(flavor = "current_thread")]
async fn origins_not_granted_are_denied_and_logged_with_the_grant_key() {
    let server = serve(LOOPBACK, 0, "A").await;
    let port = server.addr.port();
    let resolver = Arc::new(StaticResolver::new().with("svc.test", &[ip(LOOPBACK)]));
    let hooks = hooks(&[format!("http://127.0.0.1:{port}")], resolver.clone());
    let (logs, _guard) = Logs::capture();

    for url in [
        format!("http://127.0.0.1:{}/", port.wrapping_add(1).max(1)), // other port
        format!("https://127.0.0.1:{port}/"),                         // other scheme
        format!("http://svc.test:{port}/"),                           // a name for the same IP
        format!("http://[::ffff:127.0.0.2]:{port}/"),                 // another loopback IP
    ] {
        let err = hooks.send(get(&url), None).await.err().expect(&url);
        assert!(matches!(err, Error::HttpRequestDenied), "{url}: {err}");
    }
    assert_eq!(server.connections(), 0);
    assert_eq!(resolver.calls(), 0, "denied before any DNS lookup");
    let text = logs.text();
    assert!(text.contains("grants.skills.web-fetch.hosts"), "{text}");
    assert!(
        text.contains(&format!("\"http://svc.test:{port}\"")),
        "{text}"
    );
    assert!(text.contains("`web-fetch` may not reach"), "{text}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_wildcard_grant_resolving_to_loopback_is_refused() {
    // DNS rebinding: the name is granted (by pattern), but resolves to a loopback address that
    // was never granted literally.
    let server = serve(LOOPBACK, 0, "A").await;
    let port = server.addr.port();
    let resolver = Arc::new(
        StaticResolver::new()
            .with("rebind.example.test", &[ip(LOOPBACK)])
            .with("meta.example.test", &[ip("169.254.169.254")])
            .with("mapped.example.test", &[ip("::ffff:127.0.0.1")]),
    );
    let hooks = hooks(&[format!("http://*.example.test:{port}")], resolver.clone());
    let (logs, _guard) = Logs::capture();

    for name in ["rebind", "meta", "mapped"] {
        let url = format!("http://{name}.example.test:{port}/");
        let err = hooks.send(get(&url), None).await.err().expect(&url);
        assert!(
            matches!(err, Error::DestinationIpProhibited),
            "{url}: {err}"
        );
    }
    assert_eq!(
        server.connections(),
        0,
        "nothing may reach the loopback server"
    );
    assert_eq!(resolver.calls(), 3);
    let text = logs.text();
    assert!(text.contains("resolves to 127.0.0.1 (loopback)"), "{text}");
    assert!(text.contains("169.254.169.254 (link-local"), "{text}");
    assert!(text.contains("grants.skills.web-fetch.hosts"), "{text}");
}

#[tokio::test]
async fn a_literal_name_grant_may_reach_loopback() {
    let server = serve(LOOPBACK, 0, "A").await;
    let port = server.addr.port();
    let resolver = Arc::new(StaticResolver::new().with("svc.test", &[ip(LOOPBACK)]));
    let hooks = hooks(&[format!("http://svc.test:{port}")], resolver.clone());

    let text = body_text(
        hooks
            .send(get(&format!("http://svc.test:{port}/x")), None)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(text, format!("A GET /x host=svc.test:{port}"));
    assert_eq!(resolver.calls(), 1);
}

#[tokio::test]
async fn each_request_resolves_once_and_connects_to_the_checked_address() {
    // Server A on 127.0.0.1:P, server B on 127.0.0.2:P. The resolver answers A's address on
    // its first call and B's on every later call: a client that resolved a second time (to
    // check, then to connect) would end up on B.
    let a = serve(LOOPBACK, 0, "A").await;
    let port = a.addr.port();
    let b = serve("127.0.0.2", port, "B").await;
    let resolver = Arc::new(
        StaticResolver::new().with_sequence("svc.test", &[&[ip(LOOPBACK)], &[ip("127.0.0.2")]]),
    );
    let hooks = hooks(&[format!("http://svc.test:{port}")], resolver.clone());

    let (response, io) = hooks
        .send(get(&format!("http://svc.test:{port}/")), None)
        .await
        .unwrap();
    assert_eq!(
        response.extensions().get::<ConnectedAddr>(),
        Some(&ConnectedAddr(SocketAddr::new(ip(LOOPBACK), port)))
    );
    assert!(body_text((response, io)).await.unwrap().starts_with("A "));
    assert_eq!(resolver.calls(), 1, "one resolution per request");
    assert_eq!((a.connections(), b.connections()), (1, 0));

    // The next request resolves afresh (once) and follows the new answer.
    let text = body_text(
        hooks
            .send(get(&format!("http://svc.test:{port}/")), None)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(text.starts_with("B "), "{text}");
    assert_eq!(resolver.calls(), 2);
}

#[tokio::test]
async fn https_uses_the_host_name_for_sni_and_verifies_the_certificate() {
    let server = serve_tls(LOOPBACK, 0, "T").await;
    let port = server.addr.port();
    let resolver = Arc::new(StaticResolver::new().with("svc.test", &[ip(LOOPBACK)]));
    let policy = EgressPolicy::new("web-fetch", &[format!("https://svc.test:{port}")])
        .unwrap()
        .extra_root(test_ca());
    let hooks = EgressHooks::with_resolver(policy, resolver.clone()).unwrap();

    let text = body_text(
        hooks
            .send(get(&format!("https://svc.test:{port}/tls")), None)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(text, format!("T GET /tls host=svc.test:{port}"));
    assert_eq!(
        server.seen.lock().unwrap().sni,
        vec![Some("svc.test".to_owned())]
    );

    // Without the test CA the certificate is not trusted.
    let untrusted = EgressHooks::with_resolver(
        EgressPolicy::new("web-fetch", &[format!("https://svc.test:{port}")]).unwrap(),
        resolver,
    )
    .unwrap();
    let err = untrusted
        .send(get(&format!("https://svc.test:{port}/")), None)
        .await
        .err()
        .expect("untrusted certificate");
    assert!(matches!(err, Error::Tls(_)), "{err}");
}

#[tokio::test]
async fn response_bodies_are_capped() {
    let server = serve(LOOPBACK, 0, "A").await;
    let port = server.addr.port();
    let policy = EgressPolicy::new("web-fetch", &[format!("http://127.0.0.1:{port}")])
        .unwrap()
        .max_response_bytes(10_000);
    let hooks = EgressHooks::with_resolver(policy, Arc::new(StaticResolver::new())).unwrap();

    let sent = hooks
        .send(get(&format!("http://127.0.0.1:{port}/big")), None)
        .await
        .unwrap();
    let err = body_text(sent).await.expect_err("body over the cap");
    assert!(
        matches!(err, Error::HttpResponseBodySize(Some(10_000))),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_that_does_not_answer_in_time_is_a_read_timeout() {
    let server = serve(LOOPBACK, 0, "A").await;
    let port = server.addr.port();
    let policy = EgressPolicy::new("web-fetch", &[format!("http://127.0.0.1:{port}")])
        .unwrap()
        .timeouts(Timeouts {
            first_byte: Duration::from_millis(200),
            ..Timeouts::default()
        });
    let hooks = EgressHooks::with_resolver(policy, Arc::new(StaticResolver::new())).unwrap();

    let started = std::time::Instant::now();
    let err = hooks
        .send(get(&format!("http://127.0.0.1:{port}/slow")), None)
        .await
        .err()
        .expect("timeout");
    assert!(matches!(err, Error::ConnectionReadTimeout), "{err}");
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn unknown_names_are_dns_errors() {
    let resolver = Arc::new(StaticResolver::new());
    let hooks = hooks(&["http://*.example.test".to_owned()], resolver);
    let err = hooks
        .send(get("http://nowhere.example.test/"), None)
        .await
        .err()
        .expect("not found");
    assert!(matches!(err, Error::DnsError { .. }), "{err}");
}
