//! Alerts against fake Telegram, Discord and webhook servers started here: the exact
//! requests (path, token, chat id, payload, signature), 429 handling, filters, digests, a
//! dead service that never slows a scan, and no duplicate alert across a restart; answers
//! that are not the service's confirmation (a captive portal's HTML, a redirect, a body that
//! never ends) and refused credentials, none counted as delivered, each warned once with what
//! to fix, and sent by the next run; `skinscan probe`'s checks, which send no message.
//!
//! Long because every service and every hostile answer is a test here, sharing the fake
//! services they run against.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use skinscan_core::alerts::{AlertOptions, AlertSink, Service};
use skinscan_core::history::Store;
use skinscan_core::http::TlsOptions;
use skinscan_core::limit::Rate;
use skinscan_core::report::{GoneReason, WatchEvent, WatchKind};
use skinscan_core::secret::Secret;
use skinscan_core::sinks::{Event, Fanout, Sink};
use skinscan_sdk::arbitrage::FeeRule;
use skinscan_sdk::{Bps, GameId, Listing, Money, Strategy};
use skinscan_tests::*;

fn opportunity(offer: &str, title: &str, buy: i64, sell: i64) -> skinscan_sdk::Opportunity {
    let mut listing = Listing::new(format!("item-{offer}"), title, Money::usd(buy));
    listing.offer_id = Some(offer.to_owned());
    skinscan_sdk::arbitrage::opportunity(
        &GameId::new("csgo").unwrap(),
        &listing,
        Strategy::Instant,
        sell,
        &FeeRule::fixed(Bps::new(700).unwrap()),
    )
}

fn event(kind: WatchKind, offer: &str, title: &str, buy: i64, sell: i64) -> Event {
    Event::Watch(Arc::new(WatchEvent {
        kind,
        opportunity: opportunity(offer, title, buy, sell),
        detected_at: SystemTime::now(),
        delay: Some(Duration::from_millis(420)),
        reason: (kind == WatchKind::Gone).then_some(GoneReason::Delisted),
        backlog: false,
    }))
}

/// Hands `e` to `sink` (which never refuses one).
async fn tell(sink: &mut AlertSink, e: Event) {
    sink.handle(&e).await.unwrap();
}

fn client() -> reqwest::Client {
    skinscan_core::alerts::client(&TlsOptions::default(), None).unwrap()
}

fn options(service: Service) -> AlertOptions {
    let mut o = AlertOptions::new(service);
    o.digest_at = 0;
    o.timeout = Duration::from_secs(2);
    o
}

fn ok() -> FakeAnswer {
    (
        200,
        vec![("content-type", "application/json".to_owned())],
        br#"{"ok":true,"result":{}}"#.to_vec(),
    )
}

const TITLE: &str = "AK-47 | Redline & <Co> (Field-Tested)";

#[tokio::test]
async fn telegram_gets_every_chat_the_message_and_waits_out_a_429() {
    let (addr, seen) = recording_server(|n, _| {
        if n == 1 {
            (
                429,
                Vec::new(),
                br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#.to_vec(),
            )
        } else {
            ok()
        }
    })
    .await;
    let mut sink = AlertSink::new(
        options(Service::Telegram {
            base_url: format!("http://{addr}"),
            token: Secret::new("123456:SECRET-token"),
            chat_ids: vec!["42".to_owned(), "-1001".to_owned()],
        }),
        client(),
        None,
    );
    let stats = sink.stats();
    tell(&mut sink, event(WatchKind::New, "o1", TITLE, 900, 1_100)).await;
    sink.finish().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    for r in &seen {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/bot123456:SECRET-token/sendMessage");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let chat = |r: &Recorded| r.json()["chat_id"].as_str().unwrap().to_owned();
    // Both chats at once: the first request (either chat) got the 429 and was retried for
    // that chat after retry_after; the other chat was not held up by it.
    let limited = chat(&seen[0]);
    let other = if limited == "42" { "-1001" } else { "42" };
    let count = |c: &str| seen.iter().filter(|r| chat(r) == c).count();
    assert_eq!((count(&limited), count(other)), (2, 1), "{seen:#?}");
    let retry = seen.iter().skip(1).find(|r| chat(r) == limited).unwrap();
    let first_other = seen.iter().find(|r| chat(r) == other).unwrap();
    assert!(
        retry.at - seen[0].at >= Duration::from_secs(1),
        "retried before retry_after"
    );
    assert!(
        first_other.at - seen[0].at < Duration::from_millis(900),
        "the other chat waited for the limited one"
    );
    let body = retry.json();
    assert_eq!(body["parse_mode"], "HTML");
    let text = body["text"].as_str().unwrap();
    for needed in [
        "<b>New opportunity</b> · csgo",
        "<b>AK-47 | Redline &amp; &lt;Co&gt; (Field-Tested)</b>",
        "Buy $9.00 → sell $11.00 on dmarket · net $1.23 (13.6% ROI)",
        "instant",
        "trade lock:",
        "href=\"https://dmarket.com/ingame-items/item-list/csgo-skins?title=AK%2D47",
        "userOfferId=o1\"",
    ] {
        assert!(text.contains(needed), "{needed:?} missing from {text}");
    }
    assert_eq!(stats.sent.load(Ordering::Relaxed), 1);
    assert_eq!(stats.rate_limited.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn discord_gets_markdown_without_mentions_and_its_retry_after_is_honoured() {
    let (addr, seen) = recording_server(|n, _| {
        if n == 1 {
            (
                429,
                vec![("retry-after", "1".to_owned())],
                br#"{"message":"You are being rate limited.","retry_after":0.3,"global":false}"#
                    .to_vec(),
            )
        } else {
            (204, Vec::new(), Vec::new())
        }
    })
    .await;
    let mut sink = AlertSink::new(
        options(Service::Discord {
            url: Secret::new(format!("http://{addr}/api/webhooks/1/tok")),
        }),
        client(),
        None,
    );
    tell(
        &mut sink,
        event(WatchKind::New, "o1", "@everyone *free*", 900, 1_100),
    )
    .await;
    sink.finish().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].path, "/api/webhooks/1/tok");
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_millis(300), "retried after {gap:?}");
    assert!(
        gap < Duration::from_millis(950),
        "the body's retry_after (0.3 s) is the precise one: {gap:?}"
    );
    let body = seen[1].json();
    assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
    let text = body["content"].as_str().unwrap();
    assert!(text.contains(r"**\@everyone \*free\***"), "{text}");
    assert!(
        text.contains("[Open on DMarket](<https://dmarket.com/"),
        "{text}"
    );
}

/// Discord publishes its bucket in every answer: with none left, the next message waits for
/// `X-RateLimit-Reset-After` instead of earning a 429.
#[tokio::test]
async fn discord_waits_for_its_bucket_to_refill_before_a_429() {
    let (addr, seen) = recording_server(|n, _| {
        let remaining = if n == 1 { "0" } else { "4" };
        (
            204,
            vec![
                ("x-ratelimit-limit", "5".to_owned()),
                ("x-ratelimit-remaining", remaining.to_owned()),
                ("x-ratelimit-reset-after", "0.6".to_owned()),
            ],
            Vec::new(),
        )
    })
    .await;
    let mut sink = AlertSink::new(
        options(Service::Discord {
            url: Secret::new(format!("http://{addr}/api/webhooks/1/tok")),
        }),
        client(),
        None,
    );
    let stats = sink.stats();
    for offer in ["o1", "o2", "o3"] {
        tell(&mut sink, event(WatchKind::New, offer, TITLE, 900, 1_100)).await;
    }
    sink.finish().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(stats.sent.load(Ordering::Relaxed), 3);
    // Five per two seconds would let all three go at once: the bucket said wait.
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_millis(600), "sent after {gap:?}");
    // With room left, the next goes at once.
    assert!(seen[2].at - seen[1].at < Duration::from_millis(500));
}

#[tokio::test]
async fn a_webhook_gets_the_event_as_json_signed_with_hmac_sha256() {
    let (addr, seen) = recording_server(|_, _| ok()).await;
    let mut sink = AlertSink::new(
        options(Service::Webhook {
            url: format!("http://{addr}/hook"),
            secret: Some(Secret::new("s3cret")),
            rate: Rate::per_second(50.0).unwrap(),
        }),
        client(),
        None,
    );
    tell(&mut sink, event(WatchKind::New, "o1", TITLE, 900, 1_100)).await;
    sink.finish().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.path, "/hook");
    assert_eq!(r.header("x-skinscan-event"), Some("new"));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret");
    let expected = format!(
        "sha256={}",
        hex::encode(ring::hmac::sign(&key, &r.body).as_ref())
    );
    assert_eq!(r.header("x-skinscan-signature"), Some(expected.as_str()));
    let body = r.json();
    assert_eq!(body["event"], "new");
    assert_eq!(body["offer_id"], "o1");
    assert_eq!(body["title"], TITLE);
    assert_eq!(body["buy_cents"], 900);
    assert_eq!(body["sell_cents"], 1_100);
    assert_eq!(body["delay_ms"], 420);
    assert!(body["link"].as_str().unwrap().contains("userOfferId=o1"));
}

#[tokio::test]
async fn filters_hold_back_small_finds_and_a_restart_never_alerts_twice() {
    let dir = std::env::temp_dir().join(format!("skinscan-alerts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("history.db");
    let (addr, seen) = recording_server(|_, _| ok()).await;
    let make = |store: Arc<Store>| {
        let mut o = options(Service::Webhook {
            url: format!("http://{addr}/hook"),
            secret: None,
            rate: Rate::per_second(50.0).unwrap(),
        });
        o.filter.min_profit_cents = 100;
        o.filter.events = vec![WatchKind::New, WatchKind::Gone];
        AlertSink::new(o, client(), Some(store))
    };
    {
        let mut sink = make(Arc::new(Store::open(&db).unwrap()));
        tell(&mut sink, event(WatchKind::New, "big", TITLE, 900, 1_100)).await;
        // Net $0.23 ($11.00 less the 7% fee, less $10.00): under the $1.00 minimum.
        tell(
            &mut sink,
            event(WatchKind::New, "small", TITLE, 1_000, 1_100),
        )
        .await;
        // A cycle finding the same opportunity again.
        tell(&mut sink, event(WatchKind::New, "big", TITLE, 900, 1_100)).await;
        sink.finish().await.unwrap();
    }
    // A new process: the same database, the same opportunity seen again.
    let mut sink = make(Arc::new(Store::open(&db).unwrap()));
    let stats = sink.stats();
    tell(&mut sink, event(WatchKind::New, "big", TITLE, 900, 1_100)).await;
    // Its sale is still told (it was alerted); a gone for one never alerted is not.
    tell(&mut sink, event(WatchKind::Gone, "big", TITLE, 900, 1_100)).await;
    tell(
        &mut sink,
        event(WatchKind::Gone, "never", TITLE, 900, 1_100),
    )
    .await;
    sink.finish().await.unwrap();
    let events: Vec<(String, String)> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            let b = r.json();
            (
                b["offer_id"].as_str().unwrap().to_owned(),
                b["event"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("big".to_owned(), "new".to_owned()),
            ("big".to_owned(), "gone".to_owned())
        ]
    );
    assert_eq!(stats.duplicates.load(Ordering::Relaxed), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_backlog_goes_as_one_digest() {
    let (addr, seen) = recording_server(|_, _| ok()).await;
    let mut o = options(Service::Telegram {
        base_url: format!("http://{addr}"),
        token: Secret::new("1:t"),
        chat_ids: vec!["42".to_owned()],
    });
    o.digest_at = 3;
    let mut sink = AlertSink::new(o, client(), None);
    for i in 0..12 {
        tell(
            &mut sink,
            event(
                WatchKind::New,
                &format!("o{i}"),
                &format!("Item {i}"),
                900,
                1_000 + i * 10,
            ),
        )
        .await;
    }
    sink.finish().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    // One chat at one message a second: the first goes alone, the eleven queued behind it go
    // as one digest.
    assert!(seen.len() <= 3, "{} messages for 12 alerts", seen.len());
    let texts: Vec<String> = seen
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect();
    let digest = texts
        .iter()
        .find(|t| t.contains("opportunities at once"))
        .expect("a digest");
    // Best first: Item 11 sells highest.
    let best = digest.find("Item 11").unwrap();
    let worse = digest.find("Item 2").unwrap();
    assert!(best < worse, "{digest}");
    let n: usize = digest
        .trim_start_matches("<b>")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n >= 3, "{digest}");
    if n > 10 {
        assert!(
            digest.contains(&format!("… and {} more", n - 10)),
            "{digest}"
        );
    }
    // Every alert was told: alone or in the digest.
    assert_eq!(texts.len() - 1 + n, 12, "{texts:#?}");
}

#[tokio::test]
async fn a_dead_service_never_slows_the_scan_and_what_it_drops_is_counted() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let mut o = options(Service::Webhook {
        url: format!("http://{addr}/hook"),
        secret: None,
        rate: Rate::per_second(100.0).unwrap(),
    });
    o.queue = 10;
    o.drain = Duration::from_millis(300);
    o.timeout = Duration::from_secs(30);
    let sink = AlertSink::new(o, client(), None);
    let stats = sink.stats();
    let outputs = Fanout::new(vec![Box::new(sink)]);
    let started = std::time::Instant::now();
    for i in 0..500 {
        outputs.watch(
            match event(WatchKind::New, &format!("o{i}"), TITLE, 900, 1_100) {
                Event::Watch(e) => (*e).clone(),
                _ => unreachable!(),
            },
        );
    }
    let published = started.elapsed();
    assert!(
        published < Duration::from_millis(200),
        "publishing took {published:?}"
    );
    // A cycle's end does not wait for the service at all; the run's end waits for the
    // drain period (300 ms here), not for the service.
    let flushing = std::time::Instant::now();
    outputs.flush().await.unwrap();
    assert!(
        flushing.elapsed() < Duration::from_millis(250),
        "flush took {:?}",
        flushing.elapsed()
    );
    outputs.finish().await.unwrap();
    assert!(
        flushing.elapsed() < Duration::from_secs(3),
        "finish took {:?}",
        flushing.elapsed()
    );
    assert!(
        stats.dropped.load(Ordering::Relaxed) > 0,
        "a full queue drops, counted"
    );
    assert_eq!(stats.sent.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn an_alert_never_delivered_is_sent_by_the_next_run() {
    use std::sync::atomic::AtomicBool;
    let dir = std::env::temp_dir().join(format!("skinscan-alerts-down-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("history.db");
    let up = Arc::new(AtomicBool::new(false));
    let flag = up.clone();
    let (addr, seen) = recording_server(move |_, _| {
        if flag.load(Ordering::SeqCst) {
            ok()
        } else {
            (503, Vec::new(), b"down for maintenance".to_vec())
        }
    })
    .await;
    let make = || {
        let mut o = options(Service::Webhook {
            url: format!("http://{addr}/hook"),
            secret: None,
            rate: Rate::per_second(50.0).unwrap(),
        });
        o.attempts = 2;
        AlertSink::new(o, client(), Some(Arc::new(Store::open(&db).unwrap())))
    };
    let mut down = make();
    let stats = down.stats();
    down.handle(&event(WatchKind::New, "o1", TITLE, 900, 1_100))
        .await
        .unwrap();
    down.finish().await.unwrap();
    assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
    assert_eq!(seen.lock().unwrap().len(), 2, "two attempts");
    drop(down);
    // The service is back and skinscan restarted: the alert it never delivered goes now.
    up.store(true, Ordering::SeqCst);
    let mut next = make();
    let stats = next.stats();
    next.handle(&event(WatchKind::New, "o1", TITLE, 900, 1_100))
        .await
        .unwrap();
    next.finish().await.unwrap();
    assert_eq!(stats.sent.load(Ordering::Relaxed), 1);
    assert_eq!(seen.lock().unwrap().len(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Telegram whose TLS certificate is signed by a CA of its own, as behind a re-signing
/// proxy: refused (verification is on) with what to do, never retried; trusted once the CA is
/// `market.ca_file`, and reached through `market.proxy` (a CONNECT tunnel with credentials).
#[tokio::test]
async fn alerts_verify_tls_trust_the_ca_file_and_go_through_the_proxy() {
    let (addr, seen, ca) = tls_recording_server(|_, _| ok()).await;
    let telegram = || {
        let mut o = options(Service::Telegram {
            base_url: format!("https://127.0.0.1:{}", addr.port()),
            token: Secret::new("123456:SECRET-token"),
            chat_ids: vec!["42".to_owned()],
        });
        o.attempts = 3;
        o
    };

    // Not trusted: one handshake refused, no request, and the error says how to fix it.
    let mut sink = AlertSink::new(telegram(), client(), None);
    let stats = sink.stats();
    tell(&mut sink, event(WatchKind::New, "o1", TITLE, 900, 1_100)).await;
    sink.finish().await.unwrap();
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
    // (The server notes a refusal a moment after the client gave up; any retry would have
    // been made before `finish` returned.)
    for _ in 0..100 {
        if !tls_refusals(addr).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        tls_refusals(addr).len(),
        1,
        "a certificate error is not retried"
    );
    let error = stats.last_error().expect("the failure is kept");
    assert!(
        error.contains("the TLS certificate of https://127.0.0.1:")
            && error.contains("is not trusted")
            && error.contains("set market.ca_file"),
        "{error}"
    );
    assert!(!error.contains("SECRET"), "{error}");

    // The CA in market.ca_file, through a proxy that wants its password.
    let dir = std::env::temp_dir().join(format!("skinscan-alerts-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let (proxy, tunnels) = connect_proxy(Some("s3cret")).await;
    let mut tls = TlsOptions::default();
    assert_eq!(tls.add_ca_file(&ca_file).unwrap(), 1);
    let via =
        skinscan_core::http::Proxy::parse(&format!("http://trader:s3cret@{proxy}"), "market.proxy")
            .unwrap();
    let client = skinscan_core::alerts::client(&tls, Some(&via)).unwrap();
    let mut sink = AlertSink::new(telegram(), client, None);
    let stats = sink.stats();
    tell(&mut sink, event(WatchKind::New, "o2", TITLE, 900, 1_100)).await;
    sink.finish().await.unwrap();
    assert_eq!(
        stats.sent.load(Ordering::Relaxed),
        1,
        "{:?}",
        stats.last_error()
    );
    assert_eq!(tunnels.load(Ordering::SeqCst), 1, "through the proxy");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/bot123456:SECRET-token/sendMessage");
    assert_eq!(seen[0].json()["chat_id"], "42");

    // A proxy that refuses the credentials: retried as a transport failure, and said.
    let wrong =
        skinscan_core::http::Proxy::parse(&format!("http://trader:wrong@{proxy}"), "market.proxy")
            .unwrap();
    let client = skinscan_core::alerts::client(&tls, Some(&wrong)).unwrap();
    let mut sink = AlertSink::new(telegram(), client, None);
    let stats = sink.stats();
    tell(&mut sink, event(WatchKind::New, "o3", TITLE, 900, 1_100)).await;
    sink.finish().await.unwrap();
    assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
    let error = stats.last_error().unwrap();
    assert!(error.contains("(after 3 attempts)"), "{error}");
    assert!(
        !error.contains("s3cret") && !error.contains("wrong") && !error.contains("SECRET"),
        "{error}"
    );
}

// ---- delivered only when the service says so ----------------------------------------

const TOKEN: &str = "123456:SECRET-token";

/// A Telegram sink at `addr` for `chats`, one message per alert.
fn telegram_at(addr: std::net::SocketAddr, chats: &[&str]) -> AlertOptions {
    options(Service::Telegram {
        base_url: format!("http://{addr}"),
        token: Secret::new(TOKEN),
        chat_ids: chats.iter().map(|c| (*c).to_owned()).collect(),
    })
}

/// A Discord sink at `addr`, its URL ending in a token long enough to be masked on its own.
fn discord_at(addr: std::net::SocketAddr, query: &str) -> AlertOptions {
    options(Service::Discord {
        url: Secret::new(format!(
            "http://{addr}/api/webhooks/1/SECRETwebhookTOKEN{query}"
        )),
    })
}

/// Log lines written while it is held, on this thread (a current-thread test runtime runs
/// the sink's worker here too): every `skinscan*` crate at debug level.
#[derive(Clone, Default)]
struct Log(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn capture() -> (Log, tracing::subscriber::DefaultGuard) {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_env_filter("skinscan=debug")
            .finish();
        (log, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The lines at `level` (`WARN`, `DEBUG`) holding `words`.
    fn lines(&self, level: &str, words: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(&format!(" {level} ")) && l.contains(words))
            .map(str::to_owned)
            .collect()
    }
}

const UNDELIVERED: &str = "an alert was not delivered";

/// A scratch directory for a history database, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("skinscan-alerts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn store(&self) -> Arc<Store> {
        Arc::new(Store::open(&self.0.join("history.db")).unwrap())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const OFFERS: [&str; 3] = ["o1", "o2", "o3"];

/// Tells `sink` the three offers and ends its run.
async fn three_alerts(mut sink: AlertSink) {
    for offer in OFFERS {
        tell(&mut sink, event(WatchKind::New, offer, TITLE, 900, 1_100)).await;
    }
    sink.finish().await.unwrap();
}

/// The offers the history marks as alerted by `sink`.
fn marked(store: &Store, sink: &str) -> Vec<&'static str> {
    OFFERS
        .into_iter()
        .filter(|o| {
            store
                .was_alerted(sink, &opportunity(o, TITLE, 900, 1_100))
                .unwrap()
        })
        .collect()
}

fn html(status: u16, page: &str) -> FakeAnswer {
    (
        status,
        vec![("content-type", "text/html; charset=utf-8".to_owned())],
        page.as_bytes().to_vec(),
    )
}

fn json_answer(status: u16, body: &str) -> FakeAnswer {
    (
        status,
        vec![("content-type", "application/json".to_owned())],
        body.as_bytes().to_vec(),
    )
}

const PORTAL: &str = "<!DOCTYPE html>\n<html><head><title>Hotel Wi-Fi</title></head><body><form action=\"/login\">Accept the terms to continue</form></body></html>";

/// Each case in a thread of its own, on a runtime of its own (so its log is its own), all at
/// once: Telegram's one message a second per chat makes each take two seconds.
#[test]
fn answers_that_are_not_telegrams_confirmation_are_not_delivered_and_the_next_run_sends_them() {
    let huge = format!("{{\"ok\":true,\"result\":\"{}\"}}", "x".repeat(1 << 20));
    let cases: Vec<(&str, FakeAnswer, &str, String)> = vec![
        (
            "html on 200",
            html(200, PORTAL),
            "bad_answer",
            r#"telegram answered 200 OK with "<!DOCTYPE html>\n<html><head><title>Hotel Wi-Fi</title>"#.to_owned(),
        ),
        (
            "empty 200",
            (200, Vec::new(), Vec::new()),
            "bad_answer",
            r#"telegram answered 200 OK with an empty body, not the Bot API's JSON with "ok": true (a captive portal, a proxy's login page or a wrong alerts.telegram.base_url answers like this)"#.to_owned(),
        ),
        (
            "ok false on 200",
            json_answer(200, r#"{"ok":false}"#),
            "bad_answer",
            r#"telegram answered 200 OK with "{\"ok\":false}", not the Bot API's JSON"#.to_owned(),
        ),
        (
            "ok as a string",
            json_answer(200, r#"{"ok":"true","result":{}}"#),
            "bad_answer",
            r#"with "{\"ok\":\"true\",\"result\":{}}", not"#.to_owned(),
        ),
        (
            "other json",
            json_answer(200, r#"{"status":"success"}"#),
            "bad_answer",
            r#"with "{\"status\":\"success\"}", not"#.to_owned(),
        ),
        (
            "a megabyte",
            json_answer(200, &huge),
            "bad_answer",
            format!(r#"with "{{\"ok\":true,\"result\":\"{}"… (longer than skinscan reads), not"#, "x".repeat(179)),
        ),
        (
            "a redirect to a login page",
            (302, vec![("location", "http://portal.example/login?next=/bot123456:SECRET-token/sendMessage".to_owned())], Vec::new()),
            "redirect",
            "telegram answered 302 Found redirecting to http://portal.example: redirects are never followed".to_owned(),
        ),
        (
            "a redirect on the same server",
            (307, vec![("location", "/login".to_owned())], Vec::new()),
            "redirect",
            "telegram answered 307 Temporary Redirect redirecting to elsewhere on the same server".to_owned(),
        ),
    ];
    std::thread::scope(|threads| {
        for (case, bad, reason, words) in cases {
            threads.spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(held_back_then_sent(case, bad, reason, words))
            });
        }
    });
}

/// One run against `bad`: nothing delivered nor marked, one warning quoting `words`; the
/// next, against a Telegram that is right, with the same history: all three delivered.
async fn held_back_then_sent(case: &str, bad: FakeAnswer, reason: &'static str, words: String) {
    let dir = Scratch::new(&format!("held-{}", case.replace(' ', "-")));
    let (log, guard) = Log::capture();
    let answer = bad.clone();
    let (addr, seen) = recording_server(move |_, r| {
        if r.path.contains("/login") {
            html(200, "<p>logged in</p>")
        } else {
            answer.clone()
        }
    })
    .await;
    let sink = AlertSink::new(telegram_at(addr, &["42"]), client(), Some(dir.store()));
    let stats = sink.stats();
    three_alerts(sink).await;
    drop(guard);
    // One request per alert: none retried, no redirect followed.
    let paths: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        vec![format!("POST /bot{TOKEN}/sendMessage"); 3],
        "{case}"
    );
    assert_eq!(stats.sent.load(Ordering::Relaxed), 0, "{case}");
    assert_eq!(stats.failed.load(Ordering::Relaxed), 3, "{case}");
    assert_eq!(stats.failures(), [(reason, 3)].into(), "{case}");
    assert_eq!(
        marked(&dir.store(), "telegram"),
        Vec::<&str>::new(),
        "{case}: marked as sent"
    );
    let error = stats.last_error().unwrap();
    assert!(error.contains(&words), "{case}: {words:?} not in {error}");
    assert!(!error.contains("SECRET"), "{case}: {error}");
    // Warned once, quoting; the other two counted at debug level.
    let warned = log.lines("WARN", UNDELIVERED);
    assert_eq!(warned.len(), 1, "{case}: {}", log.text());
    assert!(
        warned[0].contains(&format!("reason=\"{reason}\"")),
        "{case}: {}",
        warned[0]
    );
    assert!(warned[0].contains(&words), "{case}: {}", warned[0]);
    assert_eq!(
        log.lines("DEBUG", UNDELIVERED).len(),
        2,
        "{case}: {}",
        log.text()
    );
    assert_eq!(
        log.lines("WARN", "some alerts were not delivered").len(),
        1,
        "{case}"
    );
    assert!(!log.text().contains("SECRET"), "{case}: {}", log.text());

    // The next run, the service right: what was held back arrives, once.
    let (addr, good) = recording_server(|_, _| ok()).await;
    let sink = AlertSink::new(telegram_at(addr, &["42"]), client(), Some(dir.store()));
    let stats = sink.stats();
    three_alerts(sink).await;
    let offers: Vec<String> = good
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            let text = r.json()["text"].as_str().unwrap().to_owned();
            let at = text.find("userOfferId=").unwrap() + "userOfferId=".len();
            text[at..at + 2].to_owned()
        })
        .collect();
    assert_eq!(offers, ["o1", "o2", "o3"], "{case}");
    assert_eq!(stats.sent.load(Ordering::Relaxed), 3, "{case}");
    assert_eq!(marked(&dir.store(), "telegram"), OFFERS, "{case}");
}

#[tokio::test]
async fn ok_true_is_delivered_whatever_the_content_type_says() {
    let (addr, seen) =
        recording_server(|_, _| html(200, r#"{"ok":true,"result":{"message_id":1}}"#)).await;
    let sink = AlertSink::new(telegram_at(addr, &["42"]), client(), None);
    let stats = sink.stats();
    three_alerts(sink).await;
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert_eq!(stats.sent.load(Ordering::Relaxed), 3);
    assert_eq!(stats.failures(), Default::default());
}

/// A token refused (401, or 404: no bot by it), or a webhook refused: one request per chat,
/// one warning naming the variable to fix, and nothing more sent this run; every alert
/// counted under the reason, none marked as sent.
#[tokio::test]
async fn refused_credentials_stop_the_sink_for_the_run_after_one_warning() {
    let cases: Vec<(&str, u16, &str, &str, &str)> = vec![
        (
            "telegram",
            401,
            r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
            "unauthorized",
            "telegram refused the bot token (401 Unauthorized: Unauthorized): check TELEGRAM_BOT_TOKEN (or alerts.telegram.token)",
        ),
        (
            "telegram",
            404,
            r#"{"ok":false,"error_code":404,"description":"Not Found"}"#,
            "not_found",
            "telegram knows no bot by this token (404 Not Found: Not Found): check TELEGRAM_BOT_TOKEN (or alerts.telegram.token)",
        ),
        (
            "discord",
            401,
            r#"{"message": "Invalid Webhook Token", "code": 50027}"#,
            "unauthorized",
            "discord refused the request (401 Unauthorized: Invalid Webhook Token): check DISCORD_WEBHOOK_URL (or alerts.discord.webhook_url)",
        ),
        (
            "discord",
            404,
            r#"{"message": "Unknown Webhook", "code": 10015}"#,
            "not_found",
            "discord knows no such webhook (404 Not Found: Unknown Webhook): check DISCORD_WEBHOOK_URL (or alerts.discord.webhook_url)",
        ),
    ];
    for (service, status, body, reason, words) in cases {
        let case = format!("{service} {status}");
        let dir = Scratch::new(&format!("refused-{service}-{status}"));
        let (log, guard) = Log::capture();
        let (addr, seen) = recording_server(move |_, _| json_answer(status, body)).await;
        let (o, chats) = match service {
            "telegram" => (telegram_at(addr, &["42", "43"]), 2),
            _ => (discord_at(addr, ""), 1),
        };
        let sink = AlertSink::new(o, client(), Some(dir.store()));
        let stats = sink.stats();
        three_alerts(sink).await;
        drop(guard);
        // The first message only, to each chat at most (a refusal may stop the sink before
        // the second chat's turn comes).
        let offers: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| {
                let b = r.json();
                let text = b["text"].as_str().or(b["content"].as_str()).unwrap();
                text[text.find("userOfferId=").unwrap()..].to_owned()
            })
            .collect();
        assert!((1..=chats).contains(&offers.len()), "{case}: {offers:?}");
        assert!(
            offers.iter().all(|o| o.starts_with("userOfferId=o1")),
            "{case}: {offers:?}"
        );
        assert_eq!(stats.sent.load(Ordering::Relaxed), 0, "{case}");
        assert_eq!(stats.failed.load(Ordering::Relaxed), 3, "{case}");
        assert_eq!(
            stats.failures(),
            [(reason, 3 * chats as u64)].into(),
            "{case}"
        );
        assert_eq!(marked(&dir.store(), service), Vec::<&str>::new(), "{case}");
        let warned = log.lines("WARN", UNDELIVERED);
        assert_eq!(warned.len(), 1, "{case}: {}", log.text());
        assert!(warned[0].contains(words), "{case}: {}", warned[0]);
        assert!(
            warned[0].contains(&format!("no more alerts go to {service} this run")),
            "{case}: {}",
            warned[0]
        );
        let error = stats.last_error().unwrap();
        assert!(error.contains(words), "{case}: {error}");
        assert!(!log.text().contains("SECRET"), "{case}: {}", log.text());
    }
}

#[tokio::test]
async fn a_chat_not_found_stops_that_chat_and_names_it_while_the_others_get_every_alert() {
    let dir = Scratch::new("chat-not-found");
    let (log, guard) = Log::capture();
    let (addr, seen) = recording_server(|_, r| {
        if r.json()["chat_id"] == "43" {
            json_answer(
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
            )
        } else {
            ok()
        }
    })
    .await;
    let sink = AlertSink::new(
        telegram_at(addr, &["42", "43"]),
        client(),
        Some(dir.store()),
    );
    let stats = sink.stats();
    three_alerts(sink).await;
    drop(guard);
    let chats: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.json()["chat_id"].as_str().unwrap().to_owned())
        .collect();
    let count = |c: &str| chats.iter().filter(|x| *x == c).count();
    assert_eq!((count("42"), count("43")), (3, 1), "{chats:?}");
    // Delivered to chat 42, so marked (sending again would repeat it there).
    assert_eq!(stats.sent.load(Ordering::Relaxed), 3);
    assert_eq!(marked(&dir.store(), "telegram"), OFFERS);
    assert_eq!(stats.failures(), [("chat_not_found", 3)].into());
    let warned = log.lines("WARN", UNDELIVERED);
    assert_eq!(warned.len(), 1, "{}", log.text());
    assert!(
        warned[0].contains(
            "telegram has no chat 43 for this bot (400 Bad Request: Bad Request: chat not found): check the id in TELEGRAM_CHAT_IDS (or alerts.telegram.chat_ids)"
        ),
        "{}",
        warned[0]
    );
    assert!(
        warned[0].contains("no more alerts go to chat 43 this run"),
        "{}",
        warned[0]
    );
}

/// Telegram's 400 for another reason (HTML it cannot parse, say) fails that message, quoting
/// Telegram's words: the token and the chat are fine, so the next message goes.
#[tokio::test]
async fn a_telegram_400_for_another_reason_fails_only_that_message() {
    let (addr, seen) = recording_server(|n, _| {
        if n == 1 {
            json_answer(400, r#"{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: unsupported start tag \"x\""}"#)
        } else {
            ok()
        }
    })
    .await;
    let mut sink = AlertSink::new(telegram_at(addr, &["42"]), client(), None);
    let stats = sink.stats();
    tell(&mut sink, event(WatchKind::New, "o1", TITLE, 900, 1_100)).await;
    tell(&mut sink, event(WatchKind::New, "o2", TITLE, 900, 1_100)).await;
    sink.finish().await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(stats.sent.load(Ordering::Relaxed), 1);
    assert_eq!(stats.failures(), [("http_status", 1)].into());
    assert_eq!(
        stats.last_error().unwrap(),
        r#"telegram answered 400 Bad Request: Bad Request: can't parse entities: unsupported start tag "x""#
    );
}

#[tokio::test]
async fn discord_delivers_on_204_or_on_the_message_it_waited_for_and_nothing_else() {
    // Without ?wait=true, Discord answers 204: a 200 page is someone else's.
    let (addr, seen) = recording_server(|_, _| html(200, PORTAL)).await;
    let sink = AlertSink::new(discord_at(addr, ""), client(), None);
    let stats = sink.stats();
    three_alerts(sink).await;
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert_eq!(stats.sent.load(Ordering::Relaxed), 0);
    assert_eq!(stats.failures(), [("bad_answer", 3)].into());
    let error = stats.last_error().unwrap();
    assert!(
        error.starts_with(r#"discord answered 200 OK with "<!DOCTYPE html>\n<html>"#)
            && error.contains("not Discord's 204")
            && error.contains("DISCORD_WEBHOOK_URL"),
        "{error}"
    );
    assert!(!error.contains("SECRETwebhook"), "{error}");
    // With ?wait=true: the message, with its id.
    let (addr, seen) = recording_server(|_, r| {
        assert!(r.path.ends_with("?wait=true"), "{}", r.path);
        json_answer(200, r#"{"id":"1187","channel_id":"99","content":"..."}"#)
    })
    .await;
    let sink = AlertSink::new(discord_at(addr, "?wait=true"), client(), None);
    let stats = sink.stats();
    three_alerts(sink).await;
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert_eq!(stats.sent.load(Ordering::Relaxed), 3);
    // ... and not an empty 200.
    let (addr, _) = recording_server(|_, _| (200, Vec::new(), Vec::new())).await;
    let sink = AlertSink::new(discord_at(addr, "?wait=true"), client(), None);
    let stats = sink.stats();
    three_alerts(sink).await;
    assert_eq!(stats.failures(), [("bad_answer", 3)].into());
}

/// The webhook is the user's own endpoint: any 2xx is delivered, but a redirect (to a login
/// page, say) is never followed.
#[tokio::test]
async fn a_webhook_takes_any_2xx_but_never_follows_a_redirect() {
    let (addr, seen) = recording_server(|_, r| {
        if r.path == "/hook" {
            (302, vec![("location", "/login".to_owned())], Vec::new())
        } else {
            html(200, "<p>please log in</p>")
        }
    })
    .await;
    let hook = |path: &str| {
        options(Service::Webhook {
            url: format!("http://{addr}{path}"),
            secret: None,
            rate: Rate::per_second(50.0).unwrap(),
        })
    };
    let sink = AlertSink::new(hook("/hook"), client(), None);
    let stats = sink.stats();
    three_alerts(sink).await;
    let paths: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(paths, ["/hook", "/hook", "/hook"]);
    assert_eq!(stats.sent.load(Ordering::Relaxed), 0);
    assert_eq!(stats.failures(), [("redirect", 3)].into());
    assert!(
        stats
            .last_error()
            .unwrap()
            .ends_with("check alerts.webhook.url")
    );
    // Its own 200, HTML or not: delivered.
    let sink = AlertSink::new(hook("/page"), client(), None);
    let stats = sink.stats();
    three_alerts(sink).await;
    assert_eq!(stats.sent.load(Ordering::Relaxed), 3);
}

/// A raw HTTP/1.1 server on loopback: to every request, `head`, then `body` written again
/// and again until the client hangs up (`forever`), or once and then silence.
async fn hostile_server(head: &'static str, body: Vec<u8>, forever: bool) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                while s.write_all(&body).await.is_ok() && forever {}
                // The connection stays open, silent, until the client hangs up.
                let _ = s.read(&mut buf).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_body_that_never_ends_is_read_only_to_its_limit() {
    let mut chunk = b"1000\r\n".to_vec();
    chunk.extend(std::iter::repeat_n(b'x', 0x1000));
    chunk.extend_from_slice(b"\r\n");
    let addr = hostile_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        chunk,
        true,
    )
    .await;
    let mut o = telegram_at(addr, &["42"]);
    o.timeout = Duration::from_secs(30);
    let mut sink = AlertSink::new(o, client(), None);
    let stats = sink.stats();
    let started = std::time::Instant::now();
    tell(&mut sink, event(WatchKind::New, "o1", TITLE, 900, 1_100)).await;
    sink.finish().await.unwrap();
    // Not waited out: read to its limit and judged.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stats.failures(), [("bad_answer", 1)].into());
    let error = stats.last_error().unwrap();
    assert!(
        error.starts_with(&format!(
            "telegram answered 200 OK with \"{}\"… (longer than skinscan reads), not the Bot API's JSON",
            "x".repeat(200)
        )),
        "{error}"
    );
}

#[tokio::test]
async fn a_body_that_stalls_fails_within_the_timeout_and_is_not_delivered() {
    let addr = hostile_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n",
        br#"{"ok":tr"#.to_vec(),
        false,
    )
    .await;
    let mut o = telegram_at(addr, &["42"]);
    o.timeout = Duration::from_millis(300);
    o.attempts = 2;
    let mut sink = AlertSink::new(o, client(), None);
    let stats = sink.stats();
    tell(&mut sink, event(WatchKind::New, "o1", TITLE, 900, 1_100)).await;
    sink.finish().await.unwrap();
    assert_eq!(stats.sent.load(Ordering::Relaxed), 0);
    assert_eq!(stats.failures(), [("transport", 1)].into());
    let error = stats.last_error().unwrap();
    assert!(
        error.starts_with("telegram answered 200 OK but its body did not arrive in full: ")
            && error.ends_with("(after 2 attempts)"),
        "{error}"
    );
}

// ---- skinscan probe: the sinks checked, no message sent -------------------------------

#[tokio::test]
async fn probe_checks_the_token_chats_and_webhook_without_sending_a_message() {
    let (tg, tg_seen) = recording_server(|_, r| {
        if r.path.ends_with("/getMe") {
            json_answer(200, r#"{"ok":true,"result":{"id":7,"is_bot":true,"first_name":"Scan","username":"skinscan_bot"}}"#)
        } else if r.path.contains("chat_id=42") {
            json_answer(200, r#"{"ok":true,"result":{"id":42,"type":"private","first_name":"Ann"}}"#)
        } else {
            json_answer(400, r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#)
        }
    })
    .await;
    // Discord's GET answers the webhook, its token included: never shown.
    let (dc, dc_seen) = recording_server(|_, _| {
        json_answer(
            200,
            r#"{"id":"1","type":1,"name":"Spidey","channel_id":"99","token":"SECRETwebhookTOKEN"}"#,
        )
    })
    .await;
    let (hook, hook_seen) = recording_server(|_, _| ok()).await;
    let webhook = options(Service::Webhook {
        url: format!("http://{hook}/hook"),
        secret: None,
        rate: Rate::per_second(5.0).unwrap(),
    });
    let mut checks = Vec::new();
    for o in [
        telegram_at(tg, &["42", "-100777"]),
        discord_at(dc, ""),
        webhook,
    ] {
        checks.extend(skinscan_core::alerts::check(&o, &client()).await);
    }
    let requests = |seen: &Recordings| -> Vec<String> {
        seen.lock()
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    };
    assert_eq!(
        requests(&tg_seen),
        [
            format!("GET /bot{TOKEN}/getMe"),
            format!("GET /bot{TOKEN}/getChat?chat_id=42"),
            format!("GET /bot{TOKEN}/getChat?chat_id=%2D100777"),
        ]
    );
    assert_eq!(
        requests(&dc_seen),
        ["GET /api/webhooks/1/SECRETwebhookTOKEN"]
    );
    assert_eq!(requests(&hook_seen), Vec::<String>::new());
    let no_chat = "telegram has no chat -100777 for this bot (400 Bad Request: Bad Request: \
                   chat not found): check the id in TELEGRAM_CHAT_IDS (or \
                   alerts.telegram.chat_ids); a person must have written to the bot first, a \
                   group or channel must have the bot in it";
    let line = |sink: &str, what: &str, checked: bool, status: Option<u16>, found: Option<&str>| {
        serde_json::json!({
            "sink": sink, "what": what, "checked": checked, "status": status, "found": found,
            "error": if found.is_none() { Some(no_chat) } else { None },
        })
    };
    assert_eq!(
        serde_json::to_value(&checks).unwrap(),
        serde_json::json!([
            line(
                "telegram",
                "bot token (getMe)",
                true,
                Some(200),
                Some("bot @skinscan_bot (id 7)")
            ),
            line(
                "telegram",
                "chat 42 (getChat)",
                true,
                Some(200),
                Some("private \"Ann\"")
            ),
            line("telegram", "chat -100777 (getChat)", true, Some(400), None),
            line(
                "discord",
                "webhook (GET)",
                true,
                Some(200),
                Some("webhook \"Spidey\" in channel 99")
            ),
            line(
                "webhook",
                "endpoint",
                false,
                None,
                Some("not checked: its only request is an alert")
            ),
        ])
    );
    assert_eq!(
        checks.iter().map(|c| c.ok()).collect::<Vec<_>>(),
        [true, true, false, true, true]
    );
    // The report, as a person and a machine read it: no secret.
    let report = skinscan_core::probe::ProbeReport {
        endpoint: "http://127.0.0.1:1".to_owned(),
        signed: false,
        clock_skew_secs: Some(0),
        requests: Vec::new(),
        alerts: checks,
    };
    assert!(!report.ok());
    let text = skinscan_core::probe::render(&report);
    for line in [
        "ok   telegram bot token (getMe): 200, bot @skinscan_bot (id 7)\n",
        "ok   telegram chat 42 (getChat): 200, private \"Ann\"\n",
        "FAIL telegram chat -100777 (getChat): 400\n       error: telegram has no chat -100777",
        "ok   discord webhook (GET): 200, webhook \"Spidey\" in channel 99\n",
        "skip webhook endpoint: not checked: its only request is an alert\n",
        "Something did not answer or parse as expected: see FAIL above.",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    let json = serde_json::to_string(&report).unwrap();
    assert!(
        json.contains(r#""found":"bot @skinscan_bot (id 7)""#),
        "{json}"
    );
    for text in [&text, &json] {
        assert!(!text.contains("SECRET"), "{text}");
    }
}

#[tokio::test]
async fn probe_names_the_variable_to_fix_and_asks_no_chat_when_the_token_is_refused() {
    let (tg, tg_seen) = recording_server(|_, _| {
        json_answer(
            401,
            r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
        )
    })
    .await;
    let (dc, _) = recording_server(|_, _| {
        json_answer(404, r#"{"message": "Unknown Webhook", "code": 10015}"#)
    })
    .await;
    let (portal, _) = recording_server(|_, _| html(200, PORTAL)).await;
    let telegram = skinscan_core::alerts::check(&telegram_at(tg, &["42"]), &client()).await;
    assert_eq!(tg_seen.lock().unwrap().len(), 1, "getMe only");
    assert_eq!(telegram.len(), 1);
    assert_eq!(telegram[0].status, Some(401));
    assert_eq!(
        telegram[0].error.as_deref(),
        Some(
            "telegram refused the bot token (401 Unauthorized: Unauthorized): check TELEGRAM_BOT_TOKEN (or alerts.telegram.token): the whole token @BotFather gave the bot (`123456789:AA...`), and alerts.telegram.base_url (http://127.0.0.1:PORT): is it the Bot API?"
                .replace("PORT", &tg.port().to_string())
                .as_str()
        )
    );
    let discord = skinscan_core::alerts::check(&discord_at(dc, ""), &client()).await;
    let error = discord[0].error.as_deref().unwrap();
    assert!(error.starts_with("discord knows no such webhook (404 Not Found: Unknown Webhook): check DISCORD_WEBHOOK_URL"), "{error}");
    assert!(!error.contains("SECRET"), "{error}");
    // A portal answering getMe with its page: not a bot.
    let portal = skinscan_core::alerts::check(&telegram_at(portal, &["42"]), &client()).await;
    let error = portal[0].error.as_deref().unwrap();
    assert!(
        error.starts_with(r#"telegram answered 200 OK with "<!DOCTYPE html>"#),
        "{error}"
    );
}
