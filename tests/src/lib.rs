//! Helpers for skinscan's integration tests: a simulator per test, a host upstream tuned for
//! fast tests, the built-in plugins with per-test settings, and cargo-built artifacts.
//!
//! Every server binds `127.0.0.1:0`; nothing leaves the machine.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use skinscan_core::http::{HttpOptions, Target};
use skinscan_core::limit::Rate;
use skinscan_core::plugin::Plugin;
use skinscan_core::resilience::RetryPolicy;
use skinscan_core::schedule::{CycleReport, NoObserver, ScheduleOptions, Scheduler};
use skinscan_core::sim::{SimConfig, SimServer};
use skinscan_core::upstream::{Upstream, UpstreamConfig, UpstreamPolicy};
use skinscan_sdk::SettingValue;
use tokio_util::sync::CancellationToken;

/// Starts a simulator on an ephemeral loopback port.
pub async fn sim(config: SimConfig) -> SimServer {
    skinscan_core::sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the simulator binds a loopback port")
}

/// A simulator with `items` listings per game, no latency, no limit, no faults.
pub async fn plain_sim(items: u64) -> SimServer {
    sim(SimConfig {
        items_per_game: items,
        limits: None,
        ..SimConfig::default()
    })
    .await
}

/// An upstream config for tests: high rate, short timeouts, quick retries.
pub fn upstream_config(url: &str, rate_per_sec: f64) -> UpstreamConfig {
    UpstreamPolicy {
        http: HttpOptions {
            connect_timeout: Duration::from_secs(2),
            ..HttpOptions::default()
        },
        rate: Rate::per_second(rate_per_sec).expect("a positive rate"),
        burst: 1,
        group_limits: Vec::new(),
        max_server_wait: Duration::from_secs(60),
        request_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            attempts: 6,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(50),
        },
        budget_percent: 20,
        budget_floor: 10,
        breaker_failures: 50,
        breaker_cooldown: Duration::from_secs(1),
        signer: None,
    }
    .for_target(Target::parse(url).expect("a valid URL"))
}

/// Sends one listings page request (CS:GO market items), uncancelled, through `upstream`:
/// the probe most engine and wire tests make.
pub async fn send_page(
    upstream: &Upstream,
) -> Result<skinscan_sdk::ApiResponse, skinscan_sdk::FetchError> {
    let request = skinscan_sdk::ApiRequest::get(skinscan_sdk::dmarket::MARKET_ITEMS_PATH)
        .param("gameId", "a8db");
    upstream.send(&request, &CancellationToken::new()).await
}

/// The four built-in plugins, each with `settings` (key, value) applied.
pub fn builtins(settings: &[(&str, SettingValue)]) -> Vec<Plugin> {
    let mut plugins = skinscan_core::plugin::resolve(&[]).expect("the built-ins load");
    for p in &mut plugins {
        for (k, v) in settings {
            p.settings.set(*k, v.clone());
        }
    }
    plugins
}

/// Scheduling options for tests: parallel, generous timeouts, short grace.
pub fn parallel(concurrent: usize) -> ScheduleOptions {
    ScheduleOptions {
        parallel: true,
        concurrent_scans: concurrent,
        game_timeout: Duration::from_secs(60),
        grace_period: Duration::from_secs(2),
    }
}

/// Runs one cycle of `plugins` against `config`'s upstream.
pub async fn one_cycle(
    config: UpstreamConfig,
    plugins: Vec<Plugin>,
    options: ScheduleOptions,
) -> CycleReport {
    let scheduler = Scheduler::new(Arc::new(Upstream::new(config)), plugins, options);
    scheduler
        .run_cycle(1, &CancellationToken::new(), Arc::new(NoObserver))
        .await
}

/// The item ids of every opportunity of a cycle, sorted.
pub fn opportunity_ids(report: &CycleReport) -> Vec<String> {
    let mut ids: Vec<String> = report
        .games
        .iter()
        .filter_map(|g| g.report.as_ref())
        .flat_map(|r| r.opportunities.iter().map(|o| o.item_id.clone()))
        .collect();
    ids.sort();
    ids
}

/// The requests every game of a cycle says it made.
pub fn requests_sent(report: &CycleReport) -> u64 {
    report
        .games
        .iter()
        .filter_map(|g| g.report.as_ref())
        .map(|r| r.requests)
        .sum()
}

/// The names of the games that failed in a cycle, in order.
pub fn failed_games(report: &CycleReport) -> Vec<&str> {
    report
        .games
        .iter()
        .filter(|g| g.failure.is_some())
        .map(|g| g.game.as_str())
        .collect()
}

/// Asserts every game of the cycle succeeded with no partial errors.
pub fn assert_all_ok(report: &CycleReport) {
    for g in &report.games {
        assert!(g.failure.is_none(), "{} failed: {:?}", g.game, g.failure);
        let r = g.report.as_ref().expect("a successful game has a report");
        assert!(
            r.errors.is_empty(),
            "{} reported errors: {:?}",
            g.game,
            r.errors
        );
        let judged = r.opportunities.len() as u64 + r.rejected_total();
        assert_eq!(judged, r.listings_seen, "{}: listings lost", g.game);
    }
}

/// What the plugin tests load that cargo builds: two cdylibs and the binary.
#[derive(Debug)]
pub struct Built {
    /// The CS:GO plugin's cdylib (`skinscan-csgo`).
    pub csgo: PathBuf,
    /// The fixture plugins' cdylib (`skinscan-test-plugins`).
    pub fixtures: PathBuf,
    /// The `skinscan` binary.
    pub skinscan: PathBuf,
}

/// The workspace's libraries and binary, built once per test binary by one cargo
/// invocation and taken from cargo's `compiler-artifact` messages (after `cargo test` a
/// cdylib sits only under target/debug/deps, so paths are never guessed).
///
/// `cargo build --workspace --lib --bins --tests` resolves features exactly as
/// `cargo test --workspace` does (dev-dependencies on, for every member), so it reuses
/// every unit that build just made: only the fixture cdylib, which no test target needs,
/// is new, once. Building a single package (`-p skinscan-csgo`) instead resolves other
/// features and rebuilds the crates under it, over the very files `cargo test` links.
pub fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let messages = cargo_build(&["--workspace", "--lib", "--bins", "--tests"]);
        Built {
            csgo: library(&messages, "skinscan-csgo"),
            fixtures: library(&messages, "skinscan-test-plugins"),
            skinscan: artifact(&messages, "skinscan", |m| {
                m["executable"].as_str().map(PathBuf::from)
            }),
        }
    })
}

/// The out-of-tree plugin template's cdylib (examples/plugin-template, its own Cargo
/// project), built once per test binary into this workspace's target directory with the
/// features `cargo test` in the template resolves (what CI runs next), so the two builds
/// share their units.
pub fn template_library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| workspace().join("target"), PathBuf::from);
        let manifest = workspace().join("examples/plugin-template/Cargo.toml");
        let (manifest, target_dir) = (
            manifest.to_str().expect("a UTF-8 path"),
            target_dir.to_str().expect("a UTF-8 path"),
        );
        let messages = cargo_build(&[
            "--manifest-path",
            manifest,
            "--target-dir",
            target_dir,
            "--lib",
            "--tests",
        ]);
        library(&messages, "skinscan-pubg")
    })
}

/// The workspace's root, without `..` (so the template's target directory is spelt as CI
/// spells it).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// Runs `cargo build --locked --message-format=json ARGS` in the workspace and returns
/// its messages.
///
/// The variables `cargo test` sets for the running test (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_NAME`, ...) are removed first: some build scripts (ring's) rerun when they
/// change, and their crates and everything above them would be rebuilt here, then again by
/// the next `cargo test`.
fn cargo_build(args: &[&str]) -> Vec<serde_json::Value> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command
        .current_dir(workspace())
        .args(["build", "--locked", "--message-format=json"])
        .args(args);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_for_a_test) {
            command.env_remove(name);
        }
    }
    let output = command.output().expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo build {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Whether cargo sets the variable `name` for the test binary it runs (and not for itself).
fn set_by_cargo_for_a_test(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_MANIFEST_")
        || [
            "CARGO_CRATE_NAME",
            "CARGO_BIN_NAME",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "OUT_DIR",
        ]
        .contains(&name)
}

/// The cdylib of `package` among cargo's messages.
fn library(messages: &[serde_json::Value], package: &str) -> PathBuf {
    artifact(messages, &package.replace('-', "_"), |m| {
        m["filenames"]
            .as_array()?
            .iter()
            .filter_map(|f| f.as_str())
            .find(|f| f.ends_with(std::env::consts::DLL_SUFFIX))
            .map(PathBuf::from)
    })
}

/// The file `pick` takes from the `compiler-artifact` message of target `name` (not its
/// test harness).
fn artifact(
    messages: &[serde_json::Value],
    name: &str,
    pick: impl Fn(&serde_json::Value) -> Option<PathBuf>,
) -> PathBuf {
    messages
        .iter()
        .filter(|m| {
            m["reason"] == "compiler-artifact"
                && m["target"]["name"] == name
                && m["profile"]["test"] == false
        })
        .find_map(pick)
        .unwrap_or_else(|| panic!("cargo reported no artifact of {name}"))
}

/// What a [`fake_server`] answers: status, headers, body.
pub type FakeAnswer = (u16, Vec<(&'static str, String)>, Vec<u8>);

/// An HTTP/2 (h2c) server on loopback that answers request number `n` (from 1) with
/// `answer(n, request head)`; returns its address and the arrival time of every request.
/// For answers the simulator does not give (scripted 429s, unknown shapes).
pub async fn fake_server<F>(
    answer: F,
) -> (SocketAddr, Arc<std::sync::Mutex<Vec<tokio::time::Instant>>>)
where
    F: Fn(usize, &http::request::Parts) -> FakeAnswer + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
    let answer = Arc::new(answer);
    let seen = arrivals.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (seen, answer) = (seen.clone(), answer.clone());
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let n = {
                            let mut a = seen.lock().unwrap();
                            a.push(tokio::time::Instant::now());
                            a.len()
                        };
                        let (parts, _) = req.into_parts();
                        let (status, headers, body) = answer(n, &parts);
                        let mut r = http::Response::new(http_body_util::Full::new(
                            bytes::Bytes::from(body),
                        ));
                        *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
                        for (k, v) in headers {
                            r.headers_mut()
                                .insert(k, http::HeaderValue::from_str(&v).unwrap());
                        }
                        async move { Ok::<_, std::convert::Infallible>(r) }
                    });
                let _ =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
            });
        }
    });
    (addr, arrivals)
}

/// A request a [`recording_server`] received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// When it arrived.
    pub at: tokio::time::Instant,
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers (names lower case).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Requests a [`recording_server`] received, in order.
pub type Recordings = Arc<std::sync::Mutex<Vec<Recorded>>>;

/// An HTTP/1.1 (and h2c) server on loopback, as the fake Telegram, Discord and webhook
/// receivers: it records every request whole and answers request number `n` (from 1) with
/// `answer(n, &recorded)`.
pub async fn recording_server<F>(answer: F) -> (SocketAddr, Recordings)
where
    F: Fn(usize, &Recorded) -> FakeAnswer + Send + Sync + 'static,
{
    recording_server_on(None, answer).await
}

/// As [`recording_server`], over TLS (HTTP/2 or HTTP/1.1 by ALPN) with a certificate for
/// `localhost` and `127.0.0.1` from a CA made now; also returns that CA in PEM.
pub async fn tls_recording_server<F>(answer: F) -> (SocketAddr, Recordings, String)
where
    F: Fn(usize, &Recorded) -> FakeAnswer + Send + Sync + 'static,
{
    let (acceptor, ca) = skinscan_core::sim::tls_acceptor(&[b"h2", b"http/1.1"]).unwrap();
    let (addr, recordings) = recording_server_on(Some(acceptor), answer).await;
    (addr, recordings, ca)
}

/// Handshakes a TLS recording server refused (a client that does not trust its CA), by
/// address; read through [`tls_refusals`].
static TLS_REFUSALS: std::sync::Mutex<Vec<(SocketAddr, String)>> =
    std::sync::Mutex::new(Vec::new());

/// The handshakes the TLS recording server at `addr` failed, with why.
pub fn tls_refusals(addr: SocketAddr) -> Vec<String> {
    TLS_REFUSALS
        .lock()
        .unwrap()
        .iter()
        .filter(|(a, _)| *a == addr)
        .map(|(_, e)| e.clone())
        .collect()
}

async fn recording_server_on<F>(
    tls: Option<tokio_rustls::TlsAcceptor>,
    answer: F,
) -> (SocketAddr, Recordings)
where
    F: Fn(usize, &Recorded) -> FakeAnswer + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Recordings = Arc::default();
    let answer = Arc::new(answer);
    let recordings = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (seen, answer, tls) = (seen.clone(), answer.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    None => serve_recorded(stream, seen, answer).await,
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(stream) => serve_recorded(stream, seen, answer).await,
                        Err(e) => TLS_REFUSALS.lock().unwrap().push((addr, e.to_string())),
                    },
                }
            });
        }
    });
    (addr, recordings)
}

async fn serve_recorded<IO, F>(stream: IO, seen: Recordings, answer: Arc<F>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    F: Fn(usize, &Recorded) -> FakeAnswer + Send + Sync + 'static,
{
    use http_body_util::BodyExt;
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let (seen, answer) = (seen.clone(), answer.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let recorded = Recorded {
                at: tokio::time::Instant::now(),
                method: parts.method.to_string(),
                path: parts
                    .uri
                    .path_and_query()
                    .map_or("/".to_owned(), |p| p.to_string()),
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                    .collect(),
                body: body.to_vec(),
            };
            let n = {
                let mut s = seen.lock().unwrap();
                s.push(recorded.clone());
                s.len()
            };
            let (status, headers, body) = answer(n, &recorded);
            let mut r = http::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
            *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
            for (k, v) in headers {
                r.headers_mut()
                    .insert(k, http::HeaderValue::from_str(&v).unwrap());
            }
            Ok::<_, std::convert::Infallible>(r)
        }
    });
    let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await;
}

/// An HTTP CONNECT proxy on loopback: counts tunnels; with `password`, demands the user
/// `trader` and that password (407 without).
pub async fn connect_proxy(
    password: Option<&'static str>,
) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tunnels = Arc::new(AtomicUsize::new(0));
    let count = tunnels.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let Ok(b) = client.read_u8().await else {
                        return;
                    };
                    head.push(b);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let authority = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                if let Some(pw) = password {
                    use base64::Engine as _;
                    let expected =
                        base64::engine::general_purpose::STANDARD.encode(format!("trader:{pw}"));
                    let authorized = head.lines().any(|line| {
                        line.split_once(':').is_some_and(|(name, value)| {
                            name.eq_ignore_ascii_case("proxy-authorization")
                                && value.trim() == format!("Basic {expected}")
                        })
                    });
                    if !authorized {
                        let _ = client
                            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n")
                            .await;
                        return;
                    }
                }
                let Ok(mut upstream) = tokio::net::TcpStream::connect(&authority).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (addr, tunnels)
}

/// `GET path` of the simulator over HTTP/1.1 (its `/__sim/*` truth), as JSON.
pub async fn sim_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    serde_json::from_str(out.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

/// A sink that keeps every watch event it is told, for tests to read.
#[derive(Debug, Clone, Default)]
pub struct Collect(pub Arc<std::sync::Mutex<Vec<skinscan_core::report::WatchEvent>>>);

#[async_trait::async_trait]
impl skinscan_core::sinks::Sink for Collect {
    fn name(&self) -> &'static str {
        "collect"
    }
    async fn handle(
        &mut self,
        event: &skinscan_core::sinks::Event,
    ) -> Result<(), skinscan_core::sinks::SinkFailure> {
        if let skinscan_core::sinks::Event::Watch(e) = event {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((**e).clone());
        }
        Ok(())
    }
}
