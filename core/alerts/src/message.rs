//! What an alert says: one opportunity, or a digest of many, for a person (Telegram's HTML,
//! Discord's Markdown) or a machine (the webhook's JSON).

use skinscan_sdk::Opportunity;

use skinscan_report::format_roi;
use skinscan_report::{GoneReason, WatchKind};

/// One opportunity to tell about.
#[derive(Debug, Clone)]
pub struct Alert {
    /// `new` (or a cycle's find), `changed` or `gone`.
    pub kind: WatchKind,
    /// The opportunity.
    pub opportunity: Opportunity,
    /// Why it went (`gone`).
    pub reason: Option<GoneReason>,
    /// From listing to detection (`new`, watch mode).
    pub delay_ms: Option<u64>,
}

/// The markup of a text message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// Telegram's HTML (`parse_mode = HTML`): `&`, `<`, `>` escaped.
    Html,
    /// Discord's Markdown: its control characters escaped.
    Markdown,
}

/// The DMarket page of `o`, from the `link` template (`{game}`, `{title}`, `{offer}`).
pub fn listing_link(template: &str, o: &Opportunity) -> String {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    template
        .replace("{game}", &enc(o.game.as_str()))
        .replace("{title}", &enc(&o.title))
        .replace("{offer}", &enc(skinscan_history::offer_key(o)))
}

fn escape(markup: Markup, s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match (markup, c) {
            // Control characters never reach a chat (they could forge lines).
            (_, c) if c.is_control() => out.push(' '),
            (Markup::Html, '&') => out.push_str("&amp;"),
            (Markup::Html, '<') => out.push_str("&lt;"),
            (Markup::Html, '>') => out.push_str("&gt;"),
            (
                Markup::Markdown,
                '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '[' | ']' | '(' | ')' | '#' | '-' | '@',
            ) => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn bold(markup: Markup, s: &str) -> String {
    match markup {
        Markup::Html => format!("<b>{}</b>", escape(markup, s)),
        Markup::Markdown => format!("**{}**", escape(markup, s)),
    }
}

fn link(markup: Markup, text: &str, url: &str) -> String {
    match markup {
        Markup::Html => format!(
            "<a href=\"{}\">{}</a>",
            url.replace('"', "%22"),
            escape(markup, text)
        ),
        Markup::Markdown => format!("[{}](<{}>)", escape(markup, text), url.replace('>', "%3E")),
    }
}

fn headline(a: &Alert) -> &'static str {
    match (a.kind, a.reason) {
        (WatchKind::New, _) => "New opportunity",
        (WatchKind::Changed, _) => "Price changed",
        (WatchKind::Gone, Some(GoneReason::Unprofitable)) => "No longer profitable",
        (WatchKind::Gone, _) => "Gone",
    }
}

/// One opportunity as a message: game, title, buy, sell, net profit, ROI, level, strategy,
/// trade lock and the link.
pub fn single(a: &Alert, markup: Markup, link_template: &str) -> String {
    let o = &a.opportunity;
    let mut lines = vec![
        format!(
            "{} · {}",
            bold(markup, headline(a)),
            escape(markup, o.game.as_str())
        ),
        bold(markup, &o.title),
        escape(
            markup,
            &format!(
                "Buy {} → sell {} on {} · net {} ({} ROI)",
                o.buy_price,
                o.sell_price,
                o.sell_market,
                o.net_profit,
                format_roi(o.roi_bps)
            ),
        ),
        escape(
            markup,
            &format!(
                "Level {} · {} · trade lock: {}",
                o.level.map_or("-".to_owned(), |l| l.to_string()),
                o.strategy,
                o.trade_lock
            ),
        ),
    ];
    if let Some(ms) = a.delay_ms {
        lines.push(escape(
            markup,
            &format!("Seen {:.1}s after listing", ms as f64 / 1000.0),
        ));
    }
    lines.push(link(
        markup,
        "Open on DMarket",
        &listing_link(link_template, o),
    ));
    lines.join("\n")
}

/// Many opportunities at once: a count, then the best `top` by net profit, one line each.
pub fn digest(alerts: &[Alert], markup: Markup, link_template: &str, top: usize) -> String {
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by(|a, b| {
        b.opportunity
            .net_profit
            .cents()
            .cmp(&a.opportunity.net_profit.cents())
    });
    let mut lines = vec![bold(
        markup,
        &format!("{} opportunities at once", alerts.len()),
    )];
    for a in sorted.iter().take(top) {
        let o = &a.opportunity;
        lines.push(format!(
            "{} {} {} → {} · net {} ({}) {}",
            escape(markup, headline(a)),
            escape(markup, &format!("[{}] {}", o.game.as_str(), o.title)),
            escape(markup, &o.buy_price.to_string()),
            escape(markup, &o.sell_price.to_string()),
            escape(markup, &o.net_profit.to_string()),
            escape(markup, &format_roi(o.roi_bps)),
            link(markup, "open", &listing_link(link_template, o)),
        ));
    }
    if alerts.len() > top {
        lines.push(escape(
            markup,
            &format!("… and {} more", alerts.len() - top),
        ));
    }
    lines.join("\n")
}

/// The webhook's body for one alert: the JSON Lines record of the opportunity with `event`,
/// `reason`, `delay_ms` and `link`.
pub fn json(a: &Alert, link_template: &str) -> serde_json::Value {
    let o = &a.opportunity;
    let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let mut record = serde_json::to_value(skinscan_report::OpportunityRecord::new(0, &now, o))
        .unwrap_or_else(|_| serde_json::json!({}));
    if let Some(map) = record.as_object_mut() {
        map.remove("cycle");
        map.insert("event".into(), a.kind.as_str().into());
        map.insert("reason".into(), a.reason.map(|r| r.as_str()).into());
        map.insert("delay_ms".into(), a.delay_ms.into());
        map.insert("link".into(), listing_link(link_template, o).into());
    }
    record
}
