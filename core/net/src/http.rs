//! The HTTP/2 client: ONE connection per upstream, shared by every game, streams multiplexed.
//!
//! h2c with prior knowledge for `http://` (the simulator), TLS with rustls and ALPN `h2` for
//! `https://` (the live API; webpki roots, verification always on). Connecting is
//! single-flight: concurrent first requests wait for one handshake instead of opening one
//! connection each. When the connection ends (GOAWAY, reset, keep-alive timeout), the next
//! request reconnects; requests caught in between fail with a retryable error.
//!
//! Certificates are verified against the bundled webpki roots, the system's roots (so
//! corporate roots work) and an optional `market.ca_file`; verification cannot be turned
//! off. TLS failures are translated into what a person can act on (untrusted, expired,
//! wrong name, no HTTP/2). An HTTP proxy (`market.proxy`, `HTTPS_PROXY`, `ALL_PROXY`) is
//! reached with CONNECT and carries the one connection. Concurrent requests that waited for
//! a handshake that failed share its failure instead of each trying their own.
//!
//! **Architecture Invariant:** all of skinscan's client sockets are opened here. The
//! connection is owned by the client, which is owned by an `Arc`: no game can close it.
//!
//! HTTP/2 connections are driven with `h2` directly (hyper's client on top of it, with its
//! dispatch channel, took about a third more CPU per request on the same page:
//! BENCHMARKS.md row 4a), read through one buffer, and kept alive by PINGs from a task of
//! their own; HTTP/1.1 (`allow_http1`) goes through hyper's HTTP/1.1 client.
//!
//! Long because its unit tests (about 80 lines) follow the client; the code is about 900.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::secret::Secret;

use bytes::Bytes;
use h2::client::SendRequest;
use http::{HeaderMap, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// The largest response body accepted.
const MAX_BODY: usize = 32 << 20;

/// Bytes read from the socket at once, at most (row 4a of BENCHMARKS.md: 151k recv calls
/// for 100k pages without it, 6k with it).
const READ_BUFFER: usize = 256 << 10;

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
    /// Whom to trust.
    pub tls: TlsOptions,
    /// The HTTP proxy the connection goes through, if any.
    pub proxy: Option<Proxy>,
    /// Offer `http/1.1` by ALPN beside `h2` and speak it when the server picks it (one
    /// connection still, one request at a time on it): for the other markets, whose HTTP/2
    /// support no source states. Off for DMarket, which is refused without HTTP/2.
    pub allow_http1: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(5),
            keep_alive_interval: Duration::from_secs(20),
            keep_alive_timeout: Duration::from_secs(10),
            tls: TlsOptions::default(),
            proxy: None,
            allow_http1: false,
        }
    }
}

/// The roots a TLS connection trusts, besides the bundled webpki roots (always trusted).
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// Also trust the operating system's roots.
    pub system_roots: bool,
    /// Extra CA certificates (DER): `market.ca_file`, or the embedded simulator's CA.
    pub extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Where the extra roots came from, for messages.
    pub ca_file: Option<PathBuf>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            system_roots: true,
            extra_roots: Vec::new(),
            ca_file: None,
        }
    }
}

impl TlsOptions {
    /// Reads the PEM certificates of `path` into `extra_roots`.
    pub fn add_ca_file(&mut self, path: &std::path::Path) -> Result<usize, String> {
        use rustls::pki_types::pem::PemObject;
        let text =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut n = 0;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&text) {
            let cert =
                cert.map_err(|e| format!("{} is not PEM certificates: {e:?}", path.display()))?;
            self.extra_roots.push(cert.into_owned());
            n += 1;
        }
        if n == 0 {
            return Err(format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ));
        }
        self.ca_file = Some(path.to_path_buf());
        Ok(n)
    }
}

/// An HTTP proxy reached with CONNECT: `http://[user:pass@]host:port`.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `user:pass` for `Proxy-Authorization: Basic` (a secret: never printed).
    pub credentials: Option<Secret>,
    /// Where it was configured (`market.proxy`, `HTTPS_PROXY`, ...), for messages.
    pub source: String,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl std::fmt::Display for Proxy {
    /// `http://host:port` (credentials as `***@`), and where it came from.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let creds = if self.credentials.is_some() {
            "***@"
        } else {
            ""
        };
        write!(
            f,
            "proxy http://{creds}{}:{} ({})",
            self.host, self.port, self.source
        )
    }
}

impl Proxy {
    /// Parses `http://[user:pass@]host[:port]` (port 80 by default, a bare `host:port` is
    /// read as http). `source` names where it came from.
    pub fn parse(url: &str, source: &str) -> Result<Proxy, String> {
        let url = url.trim();
        let rest = match url.split_once("://") {
            Some(("http", rest)) => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "must be an http:// proxy (HTTP CONNECT), got {scheme}://"
                ));
            }
            None => url,
        };
        let rest = rest.trim_end_matches('/');
        let (credentials, hostport) = match rest.rsplit_once('@') {
            Some((c, h)) => (
                Some(Secret::new(
                    percent_encoding::percent_decode_str(c).decode_utf8_lossy(),
                )),
                h,
            ),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("has a port that is not a number: {p:?}"))?,
            ),
            _ => (hostport, 80),
        };
        let host = host.trim_matches(['[', ']']);
        if host.is_empty() || host.contains('/') {
            return Err("must look like http://[user:pass@]host:port".to_owned());
        }
        Ok(Proxy {
            host: host.to_owned(),
            port,
            credentials,
            source: source.to_owned(),
        })
    }

    /// Whether `host` is exempt by a `NO_PROXY` list (`*`, names, `.suffix`, IPs).
    pub fn bypassed(no_proxy: &str, host: &str) -> bool {
        no_proxy
            .split(',')
            .map(|e| e.trim().trim_start_matches('*').to_ascii_lowercase())
            .filter(|e| !e.is_empty() || no_proxy.trim() == "*")
            .any(|e| {
                let host = host.to_ascii_lowercase();
                e.is_empty()
                    || host == e.trim_start_matches('.')
                    || (e.starts_with('.') && host.ends_with(&e))
                    || host.ends_with(&format!(".{e}"))
            })
    }

    /// A tunnel to `target` through this proxy.
    async fn tunnel(&self, target: &Target) -> Result<TcpStream, HttpError> {
        let err = |message: String| HttpError {
            kind: HttpErrorKind::Connect,
            message,
        };
        let mut tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| err(format!("cannot connect to the {self}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let authority = if target.host.contains(':') {
            format!("[{}]:{}", target.host, target.port)
        } else {
            format!("{}:{}", target.host, target.port)
        };
        let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(c) = &self.credentials {
            let token = base64::engine::general_purpose::STANDARD.encode(c.expose());
            head.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
        }
        head.push_str("\r\n");
        tcp.write_all(head.as_bytes())
            .await
            .map_err(|e| err(format!("the {self} closed the connection: {e}")))?;
        // The answer's head, byte by byte: nothing after it may be consumed (it is the
        // tunnel's first bytes).
        let mut answer = Vec::with_capacity(256);
        while !answer.ends_with(b"\r\n\r\n") {
            if answer.len() > 16 * 1024 {
                return Err(err(format!("the {self} sent an endless CONNECT answer")));
            }
            let b = tcp.read_u8().await.map_err(|e| {
                err(format!(
                    "the {self} closed the connection during CONNECT {authority}: {e}"
                ))
            })?;
            answer.push(b);
        }
        let text = String::from_utf8_lossy(&answer);
        let status_line = text.lines().next().unwrap_or("");
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match status {
            200..=299 => Ok(tcp),
            407 => Err(err(format!(
                "the {self} refused CONNECT {authority}: {} (check the user and password in the proxy URL)",
                status_line.trim()
            ))),
            _ => Err(err(format!(
                "the {self} refused CONNECT {authority}: {}",
                status_line.trim()
            ))),
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
    /// Which connection answered (1 for the first, 2 after a reconnect, ...).
    pub connection: u64,
    /// The HTTP version it answered in.
    pub version: http::Version,
}

/// An HTTP/2 client holding at most one connection to its target.
#[derive(Debug, Clone)]
pub struct H2Client {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    /// The target's scheme and authority as every HTTP/2 request's URI carries them, made once.
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    options: HttpOptions,
    tls: Option<tokio_rustls::TlsConnector>,
    live: Mutex<Option<Live>>,
    connecting: tokio::sync::Mutex<()>,
    generation: AtomicU64,
    connects: AtomicU64,
    announced: AtomicBool,
    /// Connect attempts finished, and the last one's failure when it failed.
    attempts: AtomicU64,
    last_failure: Mutex<Option<(u64, HttpError)>>,
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
    sender: Sender,
    generation: u64,
}

/// The connection's request side: HTTP/2 multiplexes; HTTP/1.1 carries one request at a
/// time, so its sender is shared behind a lock (requests queue, in order).
#[derive(Debug, Clone)]
enum Sender {
    H2(SendRequest<Bytes>),
    H1(Arc<tokio::sync::Mutex<hyper::client::conn::http1::SendRequest<Full<Bytes>>>>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            // The connection's task clears it when the connection ends.
            Sender::H2(_) => false,
            // Busy means alive; a closed one is seen at its next use.
            Sender::H1(s) => s.try_lock().is_ok_and(|s| s.is_closed()),
        }
    }
}

impl H2Client {
    /// A client for `target`; connects on first use.
    pub fn new(target: Target, options: HttpOptions) -> H2Client {
        let tls = (target.scheme == Scheme::Https)
            .then(|| tls_connector(&options.tls, options.allow_http1));
        let origin = target.origin();
        let authority = origin
            .split_once("://")
            .and_then(|(_, a)| http::uri::Authority::try_from(a).ok())
            .expect("a parsed Target's host and port form an authority");
        H2Client {
            inner: Arc::new(Inner {
                scheme: match target.scheme {
                    Scheme::Http => http::uri::Scheme::HTTP,
                    Scheme::Https => http::uri::Scheme::HTTPS,
                },
                authority,
                target,
                options,
                tls,
                live: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
                generation: AtomicU64::new(0),
                connects: AtomicU64::new(0),
                announced: AtomicBool::new(false),
                attempts: AtomicU64::new(0),
                last_failure: Mutex::new(None),
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
        let path = http::uri::PathAndQuery::try_from(path_and_query).map_err(|e| HttpError {
            kind: HttpErrorKind::Other,
            message: format!("invalid request: {e}"),
        })?;
        self.send_path(method, path, headers, body).await
    }

    /// [`H2Client::send`] with the path already parsed: the upstream parses it once per
    /// request and shares it by its attempts (a clone is a reference count, not a copy).
    pub async fn send_path(
        &self,
        method: http::Method,
        path_and_query: http::uri::PathAndQuery,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<HttpResponse, HttpError> {
        let live = self.sender().await?;
        match live.sender {
            Sender::H2(sender) => {
                self.send_h2(
                    sender,
                    live.generation,
                    method,
                    path_and_query,
                    headers,
                    body,
                )
                .await
            }
            Sender::H1(shared) => {
                self.send_h1(
                    &shared,
                    live.generation,
                    method,
                    path_and_query,
                    headers,
                    body,
                )
                .await
            }
        }
    }

    /// One request on the HTTP/2 connection: the absolute URI (its :scheme and :authority).
    async fn send_h2(
        &self,
        sender: SendRequest<Bytes>,
        generation: u64,
        method: http::Method,
        path_and_query: http::uri::PathAndQuery,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<HttpResponse, HttpError> {
        let invalid = |e: &dyn std::fmt::Display| HttpError {
            kind: HttpErrorKind::Other,
            message: format!("invalid request: {e}"),
        };
        let mut uri = http::uri::Parts::default();
        uri.scheme = Some(self.inner.scheme.clone());
        uri.authority = Some(self.inner.authority.clone());
        uri.path_and_query = Some(path_and_query);
        let mut request = Request::new(());
        *request.method_mut() = method;
        *request.uri_mut() = Uri::from_parts(uri).map_err(|e| invalid(&e))?;
        *request.headers_mut() = headers;
        let end_of_stream = body.is_empty();
        if !end_of_stream {
            request
                .headers_mut()
                .insert(http::header::CONTENT_LENGTH, body.len().into());
        }

        let not_processed = |e: h2::Error| {
            self.inner.invalidate(generation);
            HttpError {
                kind: HttpErrorKind::NotProcessed,
                message: chain("connection closed", &e),
            }
        };
        let mut sender = sender.ready().await.map_err(not_processed)?;
        // Nothing is on the wire when this fails.
        let (response, mut stream) = sender
            .send_request(request, end_of_stream)
            .map_err(not_processed)?;
        drop(sender);
        if !end_of_stream {
            stream.send_data(body, true).map_err(|e| HttpError {
                kind: classify_h2(&e),
                message: chain("sending the request body failed", &e),
            })?;
        }
        let response = response
            .await
            .map_err(|e| self.inner.request_failed(generation, classify_h2(&e), &e))?;
        let (parts, body) = response.into_parts();
        let body = read_body(body).await?;
        Ok(HttpResponse {
            status: parts.status,
            headers: parts.headers,
            body,
            connection: generation,
            version: http::Version::HTTP_2,
        })
    }

    /// One request on the HTTP/1.1 connection, which carries one at a time.
    async fn send_h1(
        &self,
        shared: &tokio::sync::Mutex<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
        generation: u64,
        method: http::Method,
        path_and_query: http::uri::PathAndQuery,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<HttpResponse, HttpError> {
        // HTTP/1.1 takes the path and a Host header.
        let mut request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .body(Full::new(body))
            .map_err(|e| HttpError {
                kind: HttpErrorKind::Other,
                message: format!("invalid request: {e}"),
            })?;
        *request.headers_mut() = headers;
        {
            let t = &self.inner.target;
            let default_port = match t.scheme {
                Scheme::Http => 80,
                Scheme::Https => 443,
            };
            let host = match (t.host.contains(':'), t.port == default_port) {
                (true, true) => format!("[{}]", t.host),
                (true, false) => format!("[{}]:{}", t.host, t.port),
                (false, true) => t.host.clone(),
                (false, false) => format!("{}:{}", t.host, t.port),
            };
            if let Ok(v) = http::HeaderValue::from_str(&host) {
                request.headers_mut().insert(http::header::HOST, v);
            }
        }
        let closed = |e: &hyper::Error| HttpError {
            kind: HttpErrorKind::NotProcessed,
            message: chain("connection closed", e),
        };
        let sent = {
            let mut sender = shared.lock().await;
            if let Err(e) = sender.ready().await {
                self.inner.invalidate(generation);
                return Err(closed(&e));
            }
            sender.send_request(request).await
        };
        let response = sent.map_err(|e| self.inner.request_failed(generation, classify(&e), &e))?;
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
            connection: generation,
            version: parts.version,
        })
    }

    /// The live connection's sender, connecting (once, for all waiters) when there is none.
    async fn sender(&self) -> Result<Live, HttpError> {
        if let Some(live) = self.inner.current() {
            return Ok(live);
        }
        // Boxed: connecting (TCP, TLS, the HTTP/2 handshake) is a future of several KB,
        // which would otherwise be part of every request's future and be copied with it
        // as it is built (`send_path`'s future 5,968 -> 1,200 bytes, `Upstream::send`'s
        // 6,768 -> 2,000; connecting happens once per connection).
        Box::pin(self.connect_once()).await
    }

    /// Connects, once for all waiters (the others wait for this one's outcome).
    async fn connect_once(&self) -> Result<Live, HttpError> {
        let seen = self.inner.attempts.load(Ordering::SeqCst);
        let _one_at_a_time = self.inner.connecting.lock().await;
        if let Some(live) = self.inner.current() {
            return Ok(live);
        }
        // A handshake failed while this request waited for it: share that failure rather
        // than trying again at once (one failure per cycle, not one per game).
        if let Some((n, e)) = &*self
            .inner
            .last_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            && *n > seen
        {
            return Err(e.clone());
        }
        let timeout = self.inner.options.connect_timeout;
        let result = tokio::time::timeout(timeout, self.inner.clone().connect())
            .await
            .map_err(|_| HttpError {
                kind: HttpErrorKind::Connect,
                message: format!(
                    "connecting to {} timed out after {}ms (market.connect_timeout)",
                    self.inner.target.origin(),
                    timeout.as_millis()
                ),
            })
            .and_then(|r| r);
        let n = self.inner.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        *self
            .inner
            .last_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = result.as_ref().err().map(|e| (n, e.clone()));
        result
    }
}

impl Inner {
    fn current(&self) -> Option<Live> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.as_ref().filter(|l| !l.sender.is_closed()).cloned()
    }

    /// A request that failed on connection `generation` as `kind`: a connection lost (or
    /// one that processed nothing) is dropped, so the next request reconnects.
    fn request_failed(
        &self,
        generation: u64,
        kind: HttpErrorKind,
        e: &dyn std::error::Error,
    ) -> HttpError {
        if matches!(
            kind,
            HttpErrorKind::ConnectionLost | HttpErrorKind::NotProcessed
        ) {
            self.invalidate(generation);
        }
        HttpError {
            kind,
            message: chain("request failed", e),
        }
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
        let tcp = match &self.options.proxy {
            Some(proxy) => proxy.tunnel(t).await?,
            None => TcpStream::connect((t.host.as_str(), t.port))
                .await
                .map_err(|e| connect_err("cannot connect to", &e))?,
        };
        let _ = tcp.set_nodelay(true);
        // h2 reads about one frame per call; a page is one 14.7 KB frame, so unbuffered that
        // was 1.5 recv calls per request, and the calls, not the copying, cost the most.
        let tcp = tokio::io::BufReader::with_capacity(READ_BUFFER, tcp);
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let sender = match &self.tls {
            None => self.clone().handshake(tcp, generation).await?,
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(t.host.clone())
                    .map_err(|e| connect_err("invalid TLS server name for", &e))?;
                let stream = tls.connect(name, tcp).await.map_err(|e| HttpError {
                    kind: HttpErrorKind::Connect,
                    message: tls_failure(t, &self.options.tls, &e),
                })?;
                match stream.get_ref().1.alpn_protocol() {
                    Some(b"h2") => self.clone().handshake(stream, generation).await?,
                    // The server chose HTTP/1.1, or no protocol at all (which means 1.1).
                    Some(b"http/1.1") | None if self.options.allow_http1 => {
                        self.clone().handshake_http1(stream, generation).await?
                    }
                    _ => {
                        return Err(HttpError {
                            kind: HttpErrorKind::Connect,
                            message: no_http2(t),
                        });
                    }
                }
            }
        };
        self.connects.fetch_add(1, Ordering::Relaxed);
        let version = match sender {
            Sender::H2(_) => "HTTP/2",
            Sender::H1(_) => "HTTP/1.1",
        };
        if !self.announced.swap(true, Ordering::Relaxed) {
            match sender {
                Sender::H2(_) => tracing::info!(upstream = %t.origin(), "HTTP/2: enabled"),
                Sender::H1(_) => tracing::info!(
                    upstream = %t.origin(),
                    "HTTP/1.1: the server did not offer HTTP/2 by ALPN; one connection, one \
                     request at a time"
                ),
            }
        } else {
            tracing::info!(upstream = %t.origin(), "{version}: reconnected");
        }
        let live = Live { sender, generation };
        *self.live.lock().unwrap_or_else(|p| p.into_inner()) = Some(live.clone());
        Ok(live)
    }

    /// An HTTP/1.1 connection (a server whose ALPN chose it, `allow_http1` only).
    async fn handshake_http1<IO>(
        self: Arc<Self>,
        io: IO,
        generation: u64,
    ) -> Result<Sender, HttpError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| HttpError {
                kind: HttpErrorKind::Connect,
                message: chain(
                    &format!("HTTP/1.1 handshake with {} failed", self.target.origin()),
                    &e,
                ),
            })?;
        let inner = Arc::downgrade(&self);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "HTTP/1.1 connection ended with an error");
            }
            if let Some(inner) = inner.upgrade() {
                inner.invalidate(generation);
            }
        });
        Ok(Sender::H1(Arc::new(tokio::sync::Mutex::new(sender))))
    }

    async fn handshake<IO>(self: Arc<Self>, io: IO, generation: u64) -> Result<Sender, HttpError>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, mut conn) = h2::client::Builder::new()
            .enable_push(false)
            .initial_window_size(4 << 20)
            .initial_connection_window_size(16 << 20)
            // Read in turns, so requests go out while answers are still coming in.
            .handshake::<_, Bytes>(crate::interleave::Interleave::new(io))
            .await
            .map_err(|e| HttpError {
                kind: HttpErrorKind::Connect,
                message: chain(
                    &format!("HTTP/2 handshake with {} failed", self.target.origin()),
                    &e,
                ),
            })?;
        // The keep-alive task says when a PING went unanswered; the connection is then
        // dropped, which fails its streams and makes the next request reconnect.
        let (unanswered, dead) = tokio::sync::oneshot::channel::<()>();
        if let Some(ping_pong) = conn.ping_pong() {
            tokio::spawn(keep_alive(
                ping_pong,
                self.options.keep_alive_interval,
                self.options.keep_alive_timeout,
                unanswered,
            ));
        }
        let inner = Arc::downgrade(&self);
        tokio::spawn(async move {
            tokio::select! {
                biased;
                ended = &mut conn => if let Err(e) = ended {
                    tracing::debug!(error = %e, "HTTP/2 connection ended with an error");
                },
                Ok(()) = dead => {
                    tracing::debug!("HTTP/2 keep-alive PING unanswered: connection dropped");
                }
            }
            drop(conn);
            if let Some(inner) = inner.upgrade() {
                inner.invalidate(generation);
            }
        });
        Ok(Sender::H2(sender))
    }
}

/// PINGs every `interval`; tells `unanswered` when one is not answered within `timeout`.
/// Ends when the connection does.
async fn keep_alive(
    mut ping_pong: h2::PingPong,
    interval: Duration,
    timeout: Duration,
    unanswered: tokio::sync::oneshot::Sender<()>,
) {
    let mut unanswered = unanswered;
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = unanswered.closed() => return,
        }
        match tokio::time::timeout(timeout, ping_pong.ping(h2::Ping::opaque())).await {
            Ok(Ok(_pong)) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                let _ = unanswered.send(());
                return;
            }
        }
    }
}

/// The whole body of an answer: a body in one DATA frame (a page under 16 KB) is passed on
/// without a copy. Flow-control capacity is given back as data arrives.
async fn read_body(mut body: h2::RecvStream) -> Result<Bytes, HttpError> {
    let failed = |e: h2::Error| HttpError {
        kind: match classify_h2(&e) {
            HttpErrorKind::Other => HttpErrorKind::Body,
            k => k,
        },
        message: chain("reading the response body", &e),
    };
    let too_long = || HttpError {
        kind: HttpErrorKind::Body,
        message: format!("reading the response body: longer than {MAX_BODY} bytes"),
    };
    // The first non-empty chunk, and the copy that starts only if a second one comes.
    let mut first = Bytes::new();
    let mut whole: Option<bytes::BytesMut> = None;
    let mut length = 0;
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(failed)?;
        let _ = body.flow_control().release_capacity(chunk.len());
        length += chunk.len();
        if length > MAX_BODY {
            return Err(too_long());
        }
        if chunk.is_empty() {
        } else if first.is_empty() {
            first = chunk;
        } else {
            whole
                .get_or_insert_with(|| bytes::BytesMut::from(&first[..]))
                .extend_from_slice(&chunk);
        }
    }
    Ok(whole.map_or(first, bytes::BytesMut::freeze))
}

fn no_http2(t: &Target) -> String {
    format!(
        "{} does not speak HTTP/2 (TLS ALPN offered h2 and the server did not accept it); \
         skinscan needs HTTP/2: check market.endpoint, or a proxy that downgrades connections",
        t.origin()
    )
}

/// One line a person can act on for a failed TLS handshake.
fn tls_failure(t: &Target, tls: &TlsOptions, e: &std::io::Error) -> String {
    use rustls::{AlertDescription, CertificateError, Error as TlsError};
    let origin = t.origin();
    let ca_hint = match &tls.ca_file {
        Some(path) => format!(
            "it is not signed by the CA in market.ca_file ({}) nor by a public or system root",
            path.display()
        ),
        None => "if a proxy or a test server uses its own CA, set market.ca_file to that CA (PEM)"
            .to_owned(),
    };
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<TlsError>());
    match rustls_error {
        Some(TlsError::InvalidCertificate(cert)) => match cert {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
                "the TLS certificate of {origin} has expired (or this machine's clock is wrong: check it)"
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => format!(
                "the TLS certificate of {origin} is not valid yet (check this machine's clock)"
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "the TLS certificate of {origin} is not valid for the name {:?}: check market.endpoint",
                    t.host
                )
            }
            other => {
                format!("the TLS certificate of {origin} is not trusted ({other:?}): {ca_hint}")
            }
        },
        Some(TlsError::AlertReceived(AlertDescription::NoApplicationProtocol))
        | Some(TlsError::NoApplicationProtocol) => no_http2(t),
        Some(other) => format!("TLS handshake with {origin} failed: {other}"),
        None => chain(&format!("TLS handshake with {origin} failed"), e),
    }
}

fn tls_connector(options: &TlsOptions, allow_http1: bool) -> tokio_rustls::TlsConnector {
    let alpn: &[&[u8]] = if allow_http1 {
        &[b"h2", b"http/1.1"]
    } else {
        &[b"h2"]
    };
    tokio_rustls::TlsConnector::from(Arc::new(tls_client_config(options, alpn)))
}

/// A TLS client configuration trusting the bundled webpki roots, the system's (when asked)
/// and the extra roots of `options`, offering `alpn`. Verification cannot be turned off.
pub fn tls_client_config(options: &TlsOptions, alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if options.system_roots {
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::debug!(error = %e, "a system root could not be read");
        }
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(added, ignored, "system roots");
    }
    let (_, bad) = roots.add_parsable_certificates(options.extra_roots.iter().cloned());
    if bad > 0 {
        tracing::warn!(
            bad,
            "some certificates of market.ca_file could not be used as roots"
        );
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
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

/// Reads the h2 reason out of an error to tell what a retry risks.
fn classify_h2(e: &h2::Error) -> HttpErrorKind {
    if e.reason() == Some(h2::Reason::REFUSED_STREAM) {
        HttpErrorKind::NotProcessed
    } else if e.is_go_away() || e.is_io() {
        HttpErrorKind::ConnectionLost
    } else if e.is_reset() {
        HttpErrorKind::Reset
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

    #[test]
    fn proxies_parse_and_never_print_their_password() {
        let p = Proxy::parse("http://trader:p%40ss@proxy.corp:3128/", "HTTPS_PROXY").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 3128));
        assert_eq!(p.credentials.as_ref().unwrap().expose(), "trader:p@ss");
        assert_eq!(
            p.to_string(),
            "proxy http://***@proxy.corp:3128 (HTTPS_PROXY)"
        );
        assert!(!format!("{p:?}").contains("p@ss"));
        assert_eq!(
            Proxy::parse("10.0.0.1:8080", "ALL_PROXY").unwrap().port,
            8080
        );
        assert_eq!(Proxy::parse("http://proxy", "x").unwrap().port, 80);
        assert!(
            Proxy::parse("socks5://p:1", "x")
                .unwrap_err()
                .contains("http://")
        );
        assert!(
            Proxy::parse("http://p:port", "x")
                .unwrap_err()
                .contains("port")
        );
        for (list, host, bypassed) in [
            ("*", "api.dmarket.com", true),
            (".dmarket.com", "api.dmarket.com", true),
            ("dmarket.com", "api.dmarket.com", true),
            ("dmarket.com", "notdmarket.com", false),
            ("localhost, 10.0.0.1", "api.dmarket.com", false),
            ("api.dmarket.com", "api.dmarket.com", true),
            ("", "api.dmarket.com", false),
        ] {
            assert_eq!(Proxy::bypassed(list, host), bypassed, "{list:?} {host}");
        }
    }
}
