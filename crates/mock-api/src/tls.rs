//! HTTPS for the model API (`--tls`): a self-signed certificate made at start, rustls (on the
//! `ring` provider) offering `h2` and `http/1.1` by ALPN, and hyper-util's auto builder, which
//! serves whichever protocol the client speaks on the connection.
//!
//! HTTP/2 is the point: a browser opens at most 6 HTTP/1.1 connections per origin, so more
//! requests in flight queue inside the browser; over HTTP/2 they all multiplex on one
//! connection, up to the server's `SETTINGS_MAX_CONCURRENT_STREAMS`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rcgen::{
    date_time_ymd, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{crypto, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// `SETTINGS_MAX_CONCURRENT_STREAMS` sent to HTTP/2 clients (hyper's default is 200): one
/// connection carries this many requests at once, so a load test in one browser tab is not
/// capped by the server.
pub const H2_MAX_CONCURRENT_STREAMS: u32 = 1000;

/// A client that connects but never finishes the TLS handshake is dropped after this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server side of HTTPS: a freshly generated self-signed certificate and its key, ready
/// to serve. Cheap to clone.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ServerConfig>,
    cert_pem: String,
    names: Vec<String>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Generates an ECDSA P-256 key and a self-signed certificate valid from yesterday for a
    /// year, for `localhost`, `127.0.0.1`, `::1` and each of `ips` (duplicates dropped). The
    /// certificate is an end-entity certificate for TLS servers, so a client can trust exactly
    /// it (e.g. the PEM written by `--cert-out`).
    pub fn self_signed(ips: &[IpAddr]) -> io::Result<Tls> {
        let mut names = vec!["localhost".to_string()];
        let defaults = [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ];
        for ip in defaults.iter().chain(ips) {
            let name = ip.to_string();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let mut params = CertificateParams::new(names.clone()).map_err(io::Error::other)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "stampede-mock");
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let today = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 86_400) as i64;
        let (y, m, d) = ymd(today - 1);
        params.not_before = date_time_ymd(y, m, d);
        let (y, m, d) = ymd(today + 365);
        params.not_after = date_time_ymd(y, m, d);
        let key = KeyPair::generate().map_err(io::Error::other)?;
        let cert = params.self_signed(&key).map_err(io::Error::other)?;
        let cert_pem = cert.pem();
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let chain = vec![CertificateDer::from(cert.der().to_vec())];

        // The provider is explicit so no process-wide default (or a second provider somewhere
        // in the dependency graph) is needed.
        let provider = Arc::new(crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)
            .map_err(io::Error::other)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            cert_pem,
            names,
        })
    }

    /// The certificate in PEM, for clients that want to trust it.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The certificate's subject alternative names (`localhost` and the IP addresses).
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// Year, month and day of day `days` since the Unix epoch.
fn ymd(days: i64) -> (i32, u8, u8) {
    let (y, m, d) = crate::stream::civil_from_days(days);
    // The year stays far inside i32 for any plausible clock; month and day fit u8.
    (y as i32, m as u8, d as u8)
}

/// Accepts connections on `listener` until `stop` turns true (or its sender is gone), serving
/// `router` over TLS with HTTP/1.1 or HTTP/2; then waits for the open connections to finish
/// (HTTP/2 clients get a GOAWAY, idle HTTP/1.1 connections are closed). `connections` counts
/// every accepted TCP connection.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Tls,
    connections: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let acceptor = TlsAcceptor::from(tls.config);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => tcp,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        connections.fetch_add(1, Ordering::SeqCst);
        // No Nagle: a small stream chunk must leave now, not wait for the previous one's ACK.
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let builder = Arc::clone(&builder);
        let service = TowerToHyperService::new(router.clone());
        // Taken before the handshake, so shutdown also waits for (and then stops) a
        // connection still shaking hands.
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                // A failed or stalled handshake (e.g. an untrusted certificate) only ends this
                // connection.
                _ => return,
            };
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            // Errors are the client's business (reset, protocol error); nothing to report.
            let _ = watcher.watch(conn).await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Resolves once `stop` is true, or every sender is gone (which means stop as well).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Like `axum::serve`: a connection that failed before we got it is skipped; anything else
/// (e.g. too many open files) gets a pause before the next accept instead of a busy loop.
async fn accept_error(e: io::Error) {
    let per_connection = matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    );
    if !per_connection {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
