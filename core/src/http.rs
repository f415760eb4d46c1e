//! The HTTP/2 client: ONE connection per upstream, shared by every game, streams multiplexed.
//!
//! h2c with prior knowledge for `http://` (the simulator), TLS with rustls and ALPN `h2` for
//! `https://` (the live API; webpki roots, verification always on). Connecting is
//! single-flight: concurrent first requests wait for one handshake instead of opening one
//! connection each. When the connection ends (GOAWAY, reset, keep-alive timeout), the next
//! request reconnects; requests caught in between fail with a retryable error.
//!
//! **Architecture Invariant:** all of skinscan's client sockets are opened here. The
//! connection is owned by the client, which is owned by an `Arc`: no game can close it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// The largest response body accepted.
const MAX_BODY: usize = 32 << 20;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Cleartext HTTP/2 with prior knowledge.
    Http,
    /// HTTP/2 over TLS (ALPN `h2`).
    Https,
}

/// Where an upstream is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The scheme.
    pub scheme: Scheme,
    /// Host name or IP.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// An endpoint URL skinscan cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint {url:?}: {problem}")]
pub struct TargetError {
    url: String,
    problem: String,
}

impl Target {
    /// Parses `http://host[:port]` or `https://host[:port]` (a trailing `/` is fine).
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let err = |problem: &str| TargetError {
            url: url.to_owned(),
            problem: problem.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|_| err("not a URL; use e.g. \"https://api.dmarket.com\" or \"embedded\""))?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            Some(_) => return Err(err("the scheme must be http or https")),
            None => return Err(err("missing scheme; use e.g. \"https://api.dmarket.com\"")),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| err("missing host"))?;
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(err("give only scheme, host and port (no path or query)"));
        }
        let port = uri.port_u16().unwrap_or(match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        });
        Ok(Target {
            scheme,
            host: host.trim_matches(['[', ']']).to_owned(),
            port,
        })
    }

    /// `scheme://host:port`.
    pub fn origin(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// TCP + TLS + HTTP/2 handshake limit.
    pub connect_timeout: Duration,
    /// Keep-alive PING interval.
    pub keep_alive_interval: Duration,
    /// How long a PING may go unanswered before the connection is dropped.
    pub keep_alive_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(5),
            keep_alive_interval: Duration::from_secs(20),
            keep_alive_timeout: Duration::from_secs(10),
        }
    }
}

/// What kind of failure, which decides whether a retry is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpErrorKind {
    /// TCP, TLS or HTTP/2 handshake failed: nothing was sent.
    Connect,
    /// The server refused the stream (REFUSED_STREAM) or the connection was already gone
    /// before the request was sent: nothing was processed.
    NotProcessed,
    /// GOAWAY or the connection dropped while the request was in flight.
    ConnectionLost,
    /// The stream was reset while in flight.
    Reset,
    /// The body could not be read completely.
    Body,
    /// Anything else (protocol errors).
    Other,
}

/// A failed exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    /// The kind.
    pub kind: HttpErrorKind,
    /// What happened, with the cause chain.
    pub message: String,
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: http::StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

/// An HTTP/2 client holding at most one connection to its target.
#[derive(Debug, Clone)]
pub struct H2Client {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    options: HttpOptions,
    tls: Option<tokio_rustls::TlsConnector>,
    live: Mutex<Option<Live>>,
    connecting: tokio::sync::Mutex<()>,
    generation: AtomicU64,
    connects: AtomicU64,
    announced: AtomicBool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Client")
            .field("target", &self.target.origin())
            .field("tls", &self.tls.is_some())
            .field("connections_opened", &self.connects.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct Live {
    sender: SendRequest<Full<Bytes>>,
    generation: u64,
}

impl H2Client {
    /// A client for `target`; connects on first use.
    pub fn new(target: Target, options: HttpOptions) -> H2Client {
        let tls = (target.scheme == Scheme::Https).then(tls_connector);
        H2Client {
            inner: Arc::new(Inner {
                target,
                options,
                tls,
                live: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
                generation: AtomicU64::new(0),
                connects: AtomicU64::new(0),
                announced: AtomicBool::new(false),
            }),
        }
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.inner.target
    }

    /// Connections opened so far.
    pub fn connections_opened(&self) -> u64 {
        self.inner.connects.load(Ordering::Relaxed)
    }

    /// Sends one request (`path_and_query` relative to the target) and reads the whole answer.
    pub async fn send(
        &self,
        method: http::Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<HttpResponse, HttpError> {
        let uri = format!("{}{path_and_query}", self.inner.target.origin());
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(body))
            .map_err(|e| HttpError {
                kind: HttpErrorKind::Other,
                message: format!("invalid request: {e}"),
            })?;
        *request.headers_mut() = headers;

        let live = self.sender().await?;
        let mut sender = live.sender.clone();
        if let Err(e) = sender.ready().await {
            self.inner.invalidate(live.generation);
            return Err(HttpError {
                kind: HttpErrorKind::NotProcessed,
                message: chain("connection closed", &e),
            });
        }
        let response = sender.send_request(request).await.map_err(|e| {
            let kind = classify(&e);
            if matches!(
                kind,
                HttpErrorKind::ConnectionLost | HttpErrorKind::NotProcessed
            ) {
                self.inner.invalidate(live.generation);
            }
            HttpError {
                kind,
                message: chain("request failed", &e),
            }
        })?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_BODY).collect().await.map_err(|e| {
            let kind = match e.downcast_ref::<hyper::Error>() {
                Some(h) => match classify(h) {
                    HttpErrorKind::Other => HttpErrorKind::Body,
                    k => k,
                },
                None => HttpErrorKind::Body,
            };
            HttpError {
                kind,
                message: format!("reading the response body: {e}"),
            }
        })?;
        Ok(HttpResponse {
            status: parts.status,
            headers: parts.headers,
            body: body.to_bytes(),
        })
    }

    /// The live connection's sender, connecting (once, for all waiters) when there is none.
    async fn sender(&self) -> Result<Live, HttpError> {
        if let Some(live) = self.inner.current() {
            return Ok(live);
        }
        let _one_at_a_time = self.inner.connecting.lock().await;
        if let Some(live) = self.inner.current() {
            return Ok(live);
        }
        let timeout = self.inner.options.connect_timeout;
        let sender = tokio::time::timeout(timeout, self.inner.clone().connect())
            .await
            .map_err(|_| HttpError {
                kind: HttpErrorKind::Connect,
                message: format!(
                    "connecting to {} timed out after {}ms (market.connect_timeout)",
                    self.inner.target.origin(),
                    timeout.as_millis()
                ),
            })??;
        Ok(sender)
    }
}

impl Inner {
    fn current(&self) -> Option<Live> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.as_ref().filter(|l| !l.sender.is_closed()).cloned()
    }

    fn invalidate(&self, generation: u64) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if live.as_ref().is_some_and(|l| l.generation == generation) {
            *live = None;
        }
    }

    async fn connect(self: Arc<Self>) -> Result<Live, HttpError> {
        let t = &self.target;
        let connect_err = |what: &str, e: &dyn std::error::Error| HttpError {
            kind: HttpErrorKind::Connect,
            message: chain(&format!("{what} {}", t.origin()), e),
        };
        let tcp = TcpStream::connect((t.host.as_str(), t.port))
            .await
            .map_err(|e| connect_err("cannot connect to", &e))?;
        let _ = tcp.set_nodelay(true);
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let sender = match &self.tls {
            None => self.clone().handshake(tcp, generation).await?,
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(t.host.clone())
                    .map_err(|e| connect_err("invalid TLS server name for", &e))?;
                let stream = tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| connect_err("TLS handshake failed with", &e))?;
                if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
                    return Err(HttpError {
                        kind: HttpErrorKind::Connect,
                        message: format!(
                            "{} did not negotiate HTTP/2 (ALPN h2); skinscan speaks only HTTP/2",
                            t.origin()
                        ),
                    });
                }
                self.clone().handshake(stream, generation).await?
            }
        };
        self.connects.fetch_add(1, Ordering::Relaxed);
        if !self.announced.swap(true, Ordering::Relaxed) {
            tracing::info!(upstream = %t.origin(), "HTTP/2: enabled");
        } else {
            tracing::info!(upstream = %t.origin(), "HTTP/2: reconnected");
        }
        let live = Live { sender, generation };
        *self.live.lock().unwrap_or_else(|p| p.into_inner()) = Some(live.clone());
        Ok(live)
    }

    async fn handshake<IO>(
        self: Arc<Self>,
        io: IO,
        generation: u64,
    ) -> Result<SendRequest<Full<Bytes>>, HttpError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let o = &self.options;
        let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(o.keep_alive_interval)
            .keep_alive_timeout(o.keep_alive_timeout)
            .keep_alive_while_idle(true)
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(16 << 20)
            .handshake(TokioIo::new(io))
            .await
            .map_err(|e| HttpError {
                kind: HttpErrorKind::Connect,
                message: chain(
                    &format!("HTTP/2 handshake with {} failed", self.target.origin()),
                    &e,
                ),
            })?;
        let inner = Arc::downgrade(&self);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "HTTP/2 connection ended with an error");
            }
            if let Some(inner) = inner.upgrade() {
                inner.invalidate(generation);
            }
        });
        Ok(sender)
    }
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Reads the h2 reason out of a hyper error to tell what a retry risks.
fn classify(e: &hyper::Error) -> HttpErrorKind {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(h2) = err.downcast_ref::<h2::Error>() {
            if h2.reason() == Some(h2::Reason::REFUSED_STREAM) {
                return HttpErrorKind::NotProcessed;
            }
            if h2.is_go_away() || h2.is_io() {
                return HttpErrorKind::ConnectionLost;
            }
            if h2.is_reset() {
                return HttpErrorKind::Reset;
            }
        }
        if err.is::<std::io::Error>() {
            return HttpErrorKind::ConnectionLost;
        }
        source = err.source();
    }
    if e.is_canceled() || e.is_closed() {
        HttpErrorKind::NotProcessed
    } else {
        HttpErrorKind::Other
    }
}

/// `what: error: cause: cause`.
fn chain(what: &str, e: &dyn std::error::Error) -> String {
    let mut out = format!("{what}: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_with_clear_errors() {
        let t = Target::parse("https://api.dmarket.com").unwrap();
        assert_eq!(
            (t.scheme, t.host.as_str(), t.port),
            (Scheme::Https, "api.dmarket.com", 443)
        );
        let t = Target::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(t.origin(), "http://127.0.0.1:8080");
        assert_eq!(
            Target::parse("http://[::1]:9").unwrap().origin(),
            "http://[::1]:9"
        );
        for (bad, why) in [
            ("api.dmarket.com", "missing scheme"),
            ("ftp://x", "scheme must be http or https"),
            ("https://x/exchange", "no path or query"),
            ("not a url", "not a URL"),
        ] {
            let e = Target::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error_naming_the_address() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let c = H2Client::new(
            Target::parse(&format!("http://{addr}")).unwrap(),
            HttpOptions::default(),
        );
        let e = c
            .send(http::Method::GET, "/", HeaderMap::new(), Bytes::new())
            .await
            .unwrap_err();
        assert_eq!(e.kind, HttpErrorKind::Connect);
        assert!(e.message.contains(&addr.to_string()), "{}", e.message);
    }
}
