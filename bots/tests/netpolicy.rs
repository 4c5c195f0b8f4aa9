//! Meeting URLs are untrusted: connectors never reach an address the network policy refuses, whether the
//! URL names it, a name resolves to it, or a redirect points at it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use panelist_bots::netpolicy::{
    refusal_in, GuardedHttp, IpClass, Lookup, NetworkPolicy, Refusal, UrlRefused,
};
use panelist_bots::whep::{WhepConnector, WhepSettings};
use panelist_bots::{CallConnector, JoinError, JoinSpec};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

/// A loopback HTTP server that answers every request with `response` and counts connections.
struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Server {
    async fn start(response: String) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let response = response.clone();
                tokio::spawn(async move {
                    read_request(&mut sock).await;
                    let _ = sock.write_all(response.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Server { addr, connections }
    }

    /// Answers a WHEP POST with a redirect to `location`.
    async fn redirecting_to(location: &str) -> Server {
        Server::start(format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ))
        .await
    }

    async fn not_found() -> Server {
        Server::start(
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
        )
        .await
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads one request: headers, then the body `Content-Length` announces.
async fn read_request(sock: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = sock.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return;
            }
        }
    }
}

/// Loopback WebRTC settings (fast, local), with the given policy for signalling.
fn whep(policy: NetworkPolicy) -> WhepConnector {
    WhepConnector::new(WhepSettings {
        policy,
        ..WhepSettings::loopback()
    })
}

async fn join_error(connector: &WhepConnector, url: &str) -> JoinError {
    match connector
        .join(JoinSpec::new(Url::parse(url).unwrap()))
        .await
    {
        Ok(_) => panic!("{url}: joined"),
        Err(e) => e,
    }
}

fn refusal(e: &JoinError) -> &UrlRefused {
    match e {
        JoinError::UrlNotAllowed(r) => r,
        other => panic!("expected url_not_allowed, got {other:?}"),
    }
}

#[tokio::test]
async fn an_ip_literal_in_a_refused_range_is_never_contacted() {
    let target = Server::not_found().await;
    let strict = whep(NetworkPolicy::default());
    let err = join_error(
        &strict,
        &format!("http://127.0.0.1:{}/whep/x", target.port()),
    )
    .await;
    assert_eq!(err.code(), "url_not_allowed");
    assert!(!err.is_retryable());
    assert!(matches!(
        refusal(&err).reason,
        Refusal::Address {
            class: IpClass::Loopback,
            ..
        }
    ));
    let err = join_error(&strict, "http://169.254.169.254/whep/latest/meta-data").await;
    assert!(
        matches!(
            refusal(&err).reason,
            Refusal::Address {
                class: IpClass::LinkLocal,
                ..
            }
        ),
        "{err}"
    );
    // Not even the policy that allows loopback and private networks lets a bot reach link-local.
    let err = join_error(
        &whep(NetworkPolicy::local()),
        "http://169.254.169.254/whep/x",
    )
    .await;
    assert_eq!(err.code(), "url_not_allowed");
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused_at_connect_time() {
    let target = Server::not_found().await;
    let url = format!("http://localhost:{}/whep/x", target.port());
    // The name itself passes (no allowed_hosts): only its address gives it away.
    assert!(NetworkPolicy::default()
        .check_request(&Url::parse(&url).unwrap())
        .is_ok());
    let err = join_error(&whep(NetworkPolicy::default()), &url).await;
    let refused = refusal(&err);
    assert_eq!(refused.host, "localhost");
    assert!(
        matches!(
            refused.reason,
            Refusal::Resolved {
                class: IpClass::Loopback,
                ..
            }
        ),
        "{refused}"
    );
    assert_eq!(target.connections(), 0);
    // With loopback allowed, the same URL reaches the server (which answers 404): the test is real.
    let err = join_error(&whep(NetworkPolicy::loopback()), &url).await;
    assert!(matches!(err, JoinError::Refused { status: 404 }), "{err:?}");
    assert_eq!(target.connections(), 1);
}

/// DNS that answers what the test says, as an attacker's name server would.
struct FakeDns(Vec<IpAddr>);

impl Lookup for FakeDns {
    fn lookup(
        &self,
        _host: &str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<Vec<IpAddr>>> + Send>> {
        let ips = self.0.clone();
        Box::pin(async move { Ok(ips) })
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn an_allowed_name_rebound_to_a_private_address_is_refused() {
    let policy = NetworkPolicy::new(&["meet.example.com".into()], false, false).unwrap();
    for answer in [
        vec![ip("10.0.0.7")],
        vec![ip("169.254.169.254")],
        vec![ip("::ffff:127.0.0.1")],
        vec![ip("fd00::1"), ip("100.64.0.1")],
    ] {
        let http = GuardedHttp::with_lookup(
            policy.clone(),
            Duration::from_secs(2),
            Arc::new(FakeDns(answer.clone())),
        )
        .unwrap();
        let err = http
            .request(
                Method::POST,
                Url::parse("https://meet.example.com/whep/x").unwrap(),
            )
            .unwrap()
            .send()
            .await
            .unwrap_err();
        let refused = refusal_in(&err).unwrap_or_else(|| panic!("{answer:?}: {err:?}"));
        assert_eq!(refused.host, "meet.example.com");
        assert!(
            matches!(refused.reason, Refusal::Resolved { .. }),
            "{refused}"
        );
    }
}

#[tokio::test]
async fn only_the_allowed_addresses_of_a_name_are_used() {
    let server = Server::not_found().await;
    // The metadata address comes first; the connection must go to the loopback server instead.
    let http = GuardedHttp::with_lookup(
        NetworkPolicy::loopback(),
        Duration::from_secs(2),
        Arc::new(FakeDns(vec![ip("169.254.169.254"), ip("127.0.0.1")])),
    )
    .unwrap();
    let url = format!("http://meet.example.com:{}/whep/x", server.port());
    let resp = http
        .request(Method::GET, Url::parse(&url).unwrap())
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_redirect_to_a_disallowed_host_is_not_followed() {
    // Only 127.0.0.1 is allowed, so the first hop passes and `localhost` (the same machine, by name) does not.
    let policy = NetworkPolicy::new(&["127.0.0.1".into()], true, false).unwrap();
    let forbidden = Server::not_found().await;
    let to_name =
        Server::redirecting_to(&format!("http://localhost:{}/whep/y", forbidden.port())).await;
    let err = join_error(
        &whep(policy.clone()),
        &format!("http://127.0.0.1:{}/whep/x", to_name.port()),
    )
    .await;
    let refused = refusal(&err);
    assert_eq!(refused.host, "localhost");
    assert_eq!(refused.reason, Refusal::NotAllowedHost);
    assert_eq!(to_name.connections(), 1);
    assert_eq!(forbidden.connections(), 0);

    // A redirect to an IP literal never meets the resolver: the redirect check stops it.
    let to_metadata = Server::redirecting_to("http://169.254.169.254/latest/meta-data").await;
    let err = join_error(
        &whep(NetworkPolicy::loopback()),
        &format!("http://127.0.0.1:{}/whep/x", to_metadata.port()),
    )
    .await;
    assert!(
        matches!(
            refusal(&err).reason,
            Refusal::Address {
                class: IpClass::LinkLocal,
                ..
            }
        ),
        "{err}"
    );

    // A redirect the policy allows is followed, so the refusals above are the policy's doing.
    let to_allowed =
        Server::redirecting_to(&format!("http://127.0.0.1:{}/whep/y", forbidden.port())).await;
    let err = join_error(
        &whep(policy),
        &format!("http://127.0.0.1:{}/whep/x", to_allowed.port()),
    )
    .await;
    assert!(matches!(err, JoinError::Refused { status: 404 }), "{err:?}");
    assert_eq!(forbidden.connections(), 1);
}

#[tokio::test]
async fn media_addresses_the_policy_refuses_are_never_used() {
    // The signalling server is allowed (loopback), but its answer offers media only at the cloud
    // metadata address and a private one: the bot must not send its ICE checks there.
    let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n\
a=candidate:1 1 udp 2130706431 169.254.169.254 3478 typ host\r\n\
a=candidate:2 1 udp 2130706431 10.20.30.40 3478 typ host\r\n";
    let response = format!(
        "HTTP/1.1 201 Created\r\nContent-Type: application/sdp\r\nLocation: /whep/session/1\r\n\
Content-Length: {}\r\nConnection: close\r\n\r\n{sdp}",
        sdp.len()
    );
    let server = Server::start(response).await;
    let err = join_error(
        &whep(NetworkPolicy::loopback()),
        &format!("http://127.0.0.1:{}/whep/x", server.port()),
    )
    .await;
    let refused = refusal(&err);
    match &refused.reason {
        Refusal::Candidates(addresses) => {
            assert_eq!(addresses.len(), 2, "{addresses:?}");
            assert!(addresses[0].contains("169.254.169.254"), "{addresses:?}");
        }
        other => panic!("expected refused candidates, got {other:?}"),
    }
}
