//! The alert sinks' unit tests: judging answers, quoting, masking, stopping, digests.

use skinscan_net::limit::Rate;
use skinscan_net::secret::Secret;
use std::time::Duration;

use crate::answer::{Answer, Expect, Failure, Stop};
use crate::client::signature;
use crate::options::{DEFAULT_TELEGRAM, Service};
use crate::worker::truncate;

#[test]
fn long_messages_are_cut_between_lines_never_inside_markup() {
    let text = (0..100)
        .map(|i| format!("<b>line {i}</b> <a href=\"https://x/{i}\">open</a>"))
        .collect::<Vec<_>>()
        .join("\n");
    let cut = truncate(text.clone(), 500);
    assert!(cut.chars().count() <= 500, "{}", cut.chars().count());
    assert!(cut.ends_with("\n…"), "{cut}");
    for line in cut.lines().filter(|l| *l != "…") {
        assert!(
            text.lines().any(|whole| whole == line),
            "a line was cut: {line}"
        );
    }
    assert_eq!(truncate("short".to_owned(), 500), "short");
    assert_eq!(truncate("x".repeat(20), 10), format!("{}…", "x".repeat(9)));
}

const TOKEN: &str = "123456:AAHsecretPartOfTheToken_x-9";

fn telegram() -> Service {
    Service::Telegram {
        base_url: DEFAULT_TELEGRAM.to_owned(),
        token: Secret::new(TOKEN),
        chat_ids: vec!["42".to_owned()],
    }
}

fn discord(url: &str) -> Service {
    Service::Discord {
        url: Secret::new(url),
    }
}

fn answer(status: u16, body: &[u8]) -> Answer {
    Answer {
        status: reqwest::StatusCode::from_u16(status).unwrap(),
        location: None,
        retry_after: None,
        body: body.to_vec(),
        complete: true,
    }
}

/// The failure's reason, what it stops, whether it is retried, and its text.
fn failed(service: &Service, expect: Expect, a: &Answer) -> (&'static str, Stop, bool, String) {
    match service
        .judge(expect, "42", a)
        .map(|_| ())
        .map_err(|f| service.redact(f))
    {
        Ok(()) => panic!("{} was taken as delivered", a.status),
        Err(Failure::Retry(_, p)) => (p.reason.as_str(), p.stop, true, p.text),
        Err(Failure::Fatal(p)) => (p.reason.as_str(), p.stop, false, p.text),
    }
}

#[test]
fn telegram_delivers_only_on_a_2xx_with_its_json_and_ok_true() {
    let t = telegram();
    let ok = |status: u16, body: &[u8]| {
        t.judge(Expect::TelegramOk, "42", &answer(status, body))
            .is_ok()
    };
    // JSON is JSON whatever its content type says (the judge never looks at it).
    assert!(ok(200, br#"{"ok":true,"result":{"message_id":7}}"#));
    assert!(ok(200, br#" {"ok": true} "#));
    for body in [
        &b"<!DOCTYPE html><html><title>Sign in to the Wi-Fi</title></html>"[..],
        b"",
        br#"{"ok":false}"#,
        br#"{"ok":"true"}"#,
        br#"{"ok":1}"#,
        br#"{"result":{}}"#,
        br#"[{"ok":true}]"#,
        b"true",
        br#"{"ok":true"#,
    ] {
        let (reason, stop, retried, text) = failed(&t, Expect::TelegramOk, &answer(200, body));
        assert_eq!(
            (reason, stop, retried),
            ("bad_answer", Stop::Nothing, false),
            "{text}"
        );
        assert!(text.starts_with("telegram answered 200 OK with "), "{text}");
        assert!(
            text.contains(r#"not the Bot API's JSON with "ok": true"#),
            "{text}"
        );
    }
    let (.., text) = failed(&t, Expect::TelegramOk, &answer(201, b""));
    assert!(
        text.starts_with("telegram answered 201 Created with an empty body, "),
        "{text}"
    );
}

#[test]
fn a_quote_is_the_first_200_bytes_escaped_with_no_part_of_a_secret() {
    let t = telegram();
    // The token straddles the 200th byte: masked whole before the cut.
    let mut body = "a".repeat(190).into_bytes();
    body.extend_from_slice(format!("/bot{TOKEN}/sendMessage").as_bytes());
    let quoted = t.quote(&body);
    assert_eq!(quoted, format!("\"{}/bot***/se\"…", "a".repeat(190)));
    // Only the part after the colon (an echo may encode the colon): still masked.
    let quoted = t.quote(b"Cannot POST /bot123456%3AAAHsecretPartOfTheToken_x-9/sendMessage");
    assert_eq!(quoted, r#""Cannot POST /bot123456%3A***/sendMessage""#);
    // Control characters and quotes cannot forge a log line.
    assert_eq!(
        t.quote(b"<p>\"x\"</p>\n\x1b[31mred\r\n"),
        r#""<p>\"x\"</p>\n\u{1b}[31mred\r\n""#
    );
    // Nor can text that turns itself around or hides.
    assert_eq!(
        t.quote("a\u{202e}b\u{200b}c".as_bytes()),
        r#""a\u{202e}b\u{200b}c""#
    );
    // Not UTF-8: replaced, not refused.
    assert_eq!(t.quote(&[0xff, b'o', b'k']), "\"\u{fffd}ok\"");
    assert_eq!(t.quote(b""), "an empty body");
    let long = t.quote(&[b'x'; 1_000]);
    assert_eq!(long, format!("\"{}\"…", "x".repeat(200)));
    // A Discord webhook's path and token, echoed with JSON's escaped slashes.
    let d = discord("https://discord.com/api/webhooks/123/TOKENtokenTOKEN?wait=true");
    assert_eq!(
        d.quote(br#"{"url":"https:\/\/discord.com\/api\/webhooks\/123\/TOKENtokenTOKEN"}"#),
        r#""{\"url\":\"https:\\/\\/discord.com\\/api\\/webhooks\\/123\\/***\"}""#
    );
}

#[test]
fn telegram_refusals_name_what_to_fix_and_what_stops() {
    let t = telegram();
    let status =
        |code: u16, body: &str| failed(&t, Expect::TelegramOk, &answer(code, body.as_bytes()));
    let (reason, stop, retried, text) = status(
        401,
        r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
    );
    assert_eq!((reason, stop, retried), ("unauthorized", Stop::Sink, false));
    assert_eq!(
        text,
        "telegram refused the bot token (401 Unauthorized: Unauthorized): check \
         TELEGRAM_BOT_TOKEN (or alerts.telegram.token): the whole token @BotFather gave the \
         bot (`123456789:AA...`)"
    );
    let (reason, stop, _, text) = status(
        404,
        r#"{"ok":false,"error_code":404,"description":"Not Found"}"#,
    );
    assert_eq!((reason, stop), ("not_found", Stop::Sink));
    assert!(text.starts_with("telegram knows no bot by this token (404 Not Found: Not Found): check TELEGRAM_BOT_TOKEN"), "{text}");
    let (reason, stop, _, text) = status(
        403,
        r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#,
    );
    assert_eq!((reason, stop), ("forbidden", Stop::Chat));
    assert!(
        text.contains("write to chat 42 (403 Forbidden: Forbidden: bot was blocked by the user)"),
        "{text}"
    );
    assert!(
        text.contains("TELEGRAM_BOT_TOKEN") && text.contains("TELEGRAM_CHAT_IDS"),
        "{text}"
    );
    let (reason, stop, _, text) = status(
        400,
        r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
    );
    assert_eq!((reason, stop), ("chat_not_found", Stop::Chat));
    assert!(
        text.starts_with("telegram has no chat 42 for this bot (400 Bad Request: Bad Request: chat not found): check the id in TELEGRAM_CHAT_IDS (or alerts.telegram.chat_ids)"),
        "{text}"
    );
    // Another 400: a failed message, quoted; no stop.
    let (reason, stop, retried, text) = status(
        400,
        r#"{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities"}"#,
    );
    assert_eq!(
        (reason, stop, retried),
        ("http_status", Stop::Nothing, false)
    );
    assert_eq!(
        text,
        "telegram answered 400 Bad Request: Bad Request: can't parse entities"
    );
    // An HTML 404 from something that is not Telegram: the token, and base_url when set.
    let elsewhere = Service::Telegram {
        base_url: "http://portal.example".to_owned(),
        token: Secret::new(TOKEN),
        chat_ids: vec!["42".to_owned()],
    };
    let (.., text) = failed(
        &elsewhere,
        Expect::TelegramOk,
        &answer(404, b"<h1>Not here</h1>"),
    );
    assert!(
        text.contains(r#"(404 Not Found: "<h1>Not here</h1>")"#),
        "{text}"
    );
    assert!(
        text.contains("and alerts.telegram.base_url (http://portal.example): is it the Bot API?"),
        "{text}"
    );
}

#[test]
fn rate_limits_and_server_errors_are_retried() {
    let t = telegram();
    let limited = answer(
        429,
        br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#,
    );
    match t.judge(Expect::TelegramOk, "42", &limited) {
        Err(Failure::Retry(Some(wait), p)) => {
            assert_eq!(
                (wait, p.reason.as_str()),
                (Duration::from_secs(3), "rate_limited")
            )
        }
        other => panic!("{other:?}"),
    }
    let (reason, _, retried, text) = failed(&t, Expect::TelegramOk, &answer(502, b"Bad Gateway"));
    assert_eq!((reason, retried), ("http_status", true));
    assert_eq!(text, r#"telegram answered 502 Bad Gateway: "Bad Gateway""#);
}

#[test]
fn a_redirect_is_never_delivered_and_shows_only_where_it_went() {
    let mut a = answer(302, b"");
    a.location = Some(format!(
        "https://login.example/portal?next=/bot{TOKEN}/sendMessage"
    ));
    let (reason, stop, retried, text) = failed(&telegram(), Expect::TelegramOk, &a);
    assert_eq!((reason, stop, retried), ("redirect", Stop::Nothing, false));
    assert!(text.starts_with("telegram answered 302 Found redirecting to https://login.example: redirects are never followed"), "{text}");
    assert!(text.ends_with("check alerts.telegram.base_url"), "{text}");
    a.location = Some(format!("/bot{TOKEN}/login"));
    let (.., text) = failed(&telegram(), Expect::AnySuccess, &a);
    assert!(
        text.contains("redirecting to elsewhere on the same server"),
        "{text}"
    );
    assert!(!text.contains("secretPart"), "{text}");
    for odd in [None, Some("javascript:alert(1)"), Some("login.html")] {
        a.location = odd.map(str::to_owned);
        let (.., text) = failed(&telegram(), Expect::TelegramOk, &a);
        assert!(
            text.contains("302 Found redirecting to a location not shown: "),
            "{text}"
        );
    }
    let hook = Service::Webhook {
        url: "https://hooks.example/in".to_owned(),
        secret: None,
        rate: Rate::per_second(1.0).unwrap(),
    };
    let (reason, ..) = failed(&hook, Expect::AnySuccess, &answer(301, b""));
    assert_eq!(reason, "redirect");
    // The webhook is the user's own: any 2xx, whatever its body.
    assert!(
        hook.judge(Expect::AnySuccess, "", &answer(200, b"<html>"))
            .is_ok()
    );
    assert!(
        hook.judge(Expect::AnySuccess, "", &answer(202, b""))
            .is_ok()
    );
}

#[test]
fn discord_delivers_on_204_or_the_message_when_it_waits() {
    let d = discord("https://discord.com/api/webhooks/1/TOKENtokenTOKEN");
    let plain = Expect::DiscordMessage { wait: false };
    let wait = Expect::DiscordMessage { wait: true };
    let ok = |e: Expect, status: u16, body: &[u8]| d.judge(e, "", &answer(status, body)).is_ok();
    assert!(ok(plain, 204, b""));
    assert!(ok(
        wait,
        200,
        br#"{"id":"1234","channel_id":"99","content":"x"}"#
    ));
    assert!(ok(wait, 204, b""));
    for (e, status, body) in [
        (plain, 200, &b"<html>login</html>"[..]),
        (plain, 200, br#"{"id":"1234"}"#),
        (wait, 200, b"<html>login</html>"),
        (wait, 200, br#"{"id":""}"#),
        (wait, 200, br#"{"id":1234}"#),
        (plain, 201, b""),
    ] {
        let (reason, stop, retried, text) = failed(&d, e, &answer(status, body));
        assert_eq!(
            (reason, stop, retried),
            ("bad_answer", Stop::Nothing, false),
            "{text}"
        );
        assert!(text.contains("DISCORD_WEBHOOK_URL"), "{text}");
    }
    for (code, reason) in [
        (401, "unauthorized"),
        (403, "forbidden"),
        (404, "not_found"),
    ] {
        let (r, stop, _, text) = failed(
            &d,
            plain,
            &answer(code, br#"{"message": "Unknown Webhook", "code": 10015}"#),
        );
        assert_eq!((r, stop), (reason, Stop::Sink), "{text}");
        assert!(
            text.contains(
                ": Unknown Webhook): check DISCORD_WEBHOOK_URL (or alerts.discord.webhook_url)"
            ),
            "{text}"
        );
        assert!(!text.contains("TOKENtoken"), "{text}");
    }
}

#[test]
fn signatures_are_hmac_sha256_over_the_body_in_hex() {
    // RFC 4231, test case 2.
    let s = signature(&Secret::new("Jefe"), b"what do ya want for nothing?");
    assert_eq!(
        s,
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn a_buy_alert_says_what_happened_and_why_in_text_and_json() {
    use crate::message::{Alert, Markup, json, single};
    use skinscan_report::WatchKind;
    use skinscan_sdk::arbitrage::FeeRule;
    use skinscan_sdk::{Bps, GameId, Listing, Money, Strategy};
    let mut listing = Listing::new("item-1", "AK-47 | Redline (Field-Tested)", Money::usd(900));
    listing.offer_id = Some("o1".into());
    let opportunity = skinscan_sdk::arbitrage::opportunity(
        &GameId::new("csgo").unwrap(),
        &listing,
        Strategy::Instant,
        1_200,
        &FeeRule::fixed(Bps::new(700).unwrap()),
    );
    let alert = Alert {
        kind: WatchKind::New,
        opportunity,
        reason: None,
        delay_ms: None,
        buy: Some(Box::new(("buy_refused", Some("OfferNotFound".into())))),
    };
    let text = single(&alert, Markup::Html, "https://dmarket.com/{offer}");
    assert!(
        text.contains("Buy refused") && text.contains("OfferNotFound"),
        "{text}"
    );
    let body = json(&alert, "https://dmarket.com/{offer}");
    assert_eq!(body["event"], "buy_refused");
    assert_eq!(body["reason"], "OfferNotFound");
}
