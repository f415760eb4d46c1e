//! `skinscan probe`: the first honest contact with a market. One request of each kind a
//! scan makes (a listing page per enabled game, one aggregated-prices batch, one last-sales
//! request, the account's fees when signed), each reported with its status, HTTP version,
//! latency, the rate-limit headers seen and whether its body parsed (entries read, entries
//! dropped with the first unrecognised one), plus the clock skew; then each alert sink
//! configured, checked without sending a message ([`crate::alerts::check`]: Telegram's
//! `getMe` and `getChat`, Discord's `GET` of the webhook). Exit 0 when everything answered,
//! parsed and checked out, 1 when something did not.

use std::time::Duration;

use serde::Serialize;
use skinscan_sdk::dmarket::{self, ListingApi, ListingsQuery, ParseError};
use skinscan_sdk::{ApiRequest, Currency, WireStats};

use crate::output::printable;
use crate::upstream::Upstream;

/// What one probe request found.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeLine {
    /// What was asked (`csgo listings (v2)`).
    pub what: String,
    /// The request's path and query.
    pub request: String,
    /// The status, when an answer came.
    pub status: Option<u16>,
    /// `HTTP/2`.
    pub http: &'static str,
    /// How long the answer took.
    pub latency_ms: Option<f64>,
    /// `RateLimit-Limit` / `-Remaining` / `-Reset` as received.
    pub rate_limit: Option<String>,
    /// Entries the body held.
    pub entries: Option<u64>,
    /// Entries that did not parse.
    pub dropped: u64,
    /// The first entry that did not parse, truncated.
    pub example: Option<String>,
    /// Forms seen of uncertain fields.
    pub forms: Vec<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

impl ProbeLine {
    /// True when the request answered 2xx and every entry parsed.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.dropped == 0 && self.status.is_some_and(|s| s < 300)
    }
}

/// The whole probe.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The market.
    pub endpoint: String,
    /// Whether requests were signed.
    pub signed: bool,
    /// Server clock minus this machine's, in seconds.
    pub clock_skew_secs: Option<i64>,
    /// One per request.
    pub requests: Vec<ProbeLine>,
    /// One per alert sink part checked (none without alerts).
    pub alerts: Vec<crate::alerts::SinkCheck>,
}

impl ProbeReport {
    /// True when every request answered and parsed, every alert sink checked out, and the
    /// clock is within 30 s.
    pub fn ok(&self) -> bool {
        self.requests.iter().all(ProbeLine::ok)
            && self.alerts.iter().all(crate::alerts::SinkCheck::ok)
            && self
                .clock_skew_secs
                .is_none_or(|s| s.abs() <= crate::upstream::CLOCK_SKEW_WARN_SECS)
    }
}

/// A game to probe: its plugin name, market `gameId`, aggregated-prices game and the
/// listing endpoint its settings choose (`None`: auto).
#[derive(Debug, Clone)]
pub struct ProbeGame {
    /// Plugin name.
    pub name: String,
    /// Market `gameId`.
    pub game_id: String,
    /// `filter.game`.
    pub price_game: String,
    /// `listings_api`.
    pub api: Option<ListingApi>,
}

struct Parsed {
    entries: u64,
    wire: WireStats,
    titles: Vec<String>,
}

async fn ask(
    upstream: &Upstream,
    what: String,
    request: ApiRequest,
    parse: impl Fn(&[u8]) -> Result<Parsed, ParseError>,
) -> (ProbeLine, Option<Parsed>) {
    let mut line = ProbeLine {
        what,
        request: request.path_and_query(),
        status: None,
        http: "-",
        latency_ms: None,
        rate_limit: None,
        entries: None,
        dropped: 0,
        example: None,
        forms: Vec::new(),
        error: None,
    };
    let (response, latency) = match upstream.send_once(&request).await {
        Ok(r) => r,
        Err(e) => {
            line.error = Some(e.to_string());
            return (line, None);
        }
    };
    line.status = Some(response.status.as_u16());
    line.http = match response.version {
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_11 => "HTTP/1.1",
        _ => "HTTP/?",
    };
    line.latency_ms = Some(latency.as_secs_f64() * 1e3);
    let limits = crate::upstream::RateHeaders::read(&response.headers);
    if limits.limit.is_some() || limits.remaining.is_some() {
        let show = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
        line.rate_limit = Some(format!(
            "limit {}, remaining {}, reset {}",
            show(limits.limit.map(|l| l.to_string())),
            show(limits.remaining.map(|r| r.to_string())),
            show(limits.reset.map(|d| d.as_secs_f64().to_string())),
        ));
    }
    if !response.status.is_success() {
        let message = upstream.error_message(response.status.as_u16(), &response.body);
        let message = skinscan_sdk::model::truncate_bytes(&message, 200);
        line.error = Some(format!("HTTP {}: {message}", response.status.as_u16()));
        return (line, None);
    }
    match parse(&response.body) {
        Ok(p) => {
            line.entries = Some(p.entries);
            line.dropped = p.wire.dropped_total();
            line.example = p.wire.examples.values().next().cloned();
            line.forms = p.wire.forms.keys().map(|(_, form)| form.clone()).collect();
            (line, Some(p))
        }
        Err(e) => {
            line.error = Some(e.to_string());
            (line, None)
        }
    }
}

/// Runs the probe over `games` (at least one).
pub async fn run(upstream: &Upstream, games: &[ProbeGame]) -> ProbeReport {
    let mut lines = Vec::new();
    let mut first_titles: Option<(ProbeGame, Vec<String>)> = None;
    let listings = |body: &[u8]| {
        dmarket::parse_listings_page(body, Currency::Usd).map(|p| Parsed {
            entries: p.entries,
            titles: p.listings.iter().map(|l| l.title.clone()).collect(),
            wire: p.wire,
        })
    };
    for g in games {
        let apis = match g.api {
            Some(api) => vec![api],
            None => vec![ListingApi::V2, ListingApi::V1],
        };
        for api in apis {
            let request = ListingsQuery::new(api, &g.game_id).to_request();
            let what = format!("{} listings ({})", g.name, api.as_str());
            let (line, parsed) = ask(upstream, what, request, listings).await;
            let not_found = line.status == Some(404);
            lines.push(line);
            if let Some(p) = parsed
                && first_titles.is_none()
                && !p.titles.is_empty()
            {
                first_titles = Some((g.clone(), p.titles));
            }
            // auto: v2 answered (or failed otherwise), no need for v1.
            if !not_found {
                break;
            }
        }
    }
    if let Some((g, mut titles)) = first_titles {
        titles.sort();
        titles.dedup();
        titles.truncate(dmarket::MAX_TITLES_PER_PRICE_REQUEST);
        let request = dmarket::aggregated_prices_request(&g.price_game, &titles, None);
        let (line, _) = ask(
            upstream,
            format!("{} aggregated prices ({} titles)", g.name, titles.len()),
            request,
            |b| {
                dmarket::parse_aggregated_prices(b, Currency::Usd).map(|p| Parsed {
                    entries: p.entries,
                    wire: p.wire,
                    titles: Vec::new(),
                })
            },
        )
        .await;
        lines.push(line);
        let request = dmarket::last_sales_request(&g.game_id, &titles[0], 20);
        let (line, _) = ask(upstream, format!("{} last sales", g.name), request, |b| {
            dmarket::parse_last_sales(b, Currency::Usd).map(|p| Parsed {
                entries: p.entries,
                wire: p.wire,
                titles: Vec::new(),
            })
        })
        .await;
        lines.push(line);
    }
    if upstream.signed()
        && let Some(g) = games.first()
    {
        let request = dmarket::customized_fees_request(&g.game_id, 0);
        let (line, _) = ask(
            upstream,
            format!("{} customized fees", g.name),
            request,
            |b| {
                dmarket::parse_customized_fees(b, Currency::Usd).map(|p| Parsed {
                    entries: p.entries,
                    wire: p.wire,
                    titles: Vec::new(),
                })
            },
        )
        .await;
        lines.push(line);
    }
    ProbeReport {
        endpoint: upstream.target().origin(),
        signed: upstream.signed(),
        clock_skew_secs: upstream.clock_skew(),
        requests: lines,
        alerts: Vec::new(),
    }
}

/// The report for a person.
pub fn render(report: &ProbeReport) -> String {
    let mut out = format!(
        "Probe of {} ({})\n",
        report.endpoint,
        if report.signed { "signed" } else { "unsigned" }
    );
    for l in &report.requests {
        let mark = if l.ok() { "ok  " } else { "FAIL" };
        let status = l.status.map_or("-".to_owned(), |s| s.to_string());
        let latency = l
            .latency_ms
            .map_or("-".to_owned(), |ms| format!("{ms:.0} ms"));
        out.push_str(&format!("{mark} {}: {status} {} {latency}", l.what, l.http));
        if let Some(e) = l.entries {
            out.push_str(&format!(", {e} entries parsed"));
            if l.dropped > 0 {
                out.push_str(&format!(" of which {} NOT understood", l.dropped));
            }
        }
        if let Some(rl) = &l.rate_limit {
            out.push_str(&format!("; rate limit: {rl}"));
        }
        out.push('\n');
        if !l.forms.is_empty() {
            out.push_str(&format!("       forms: {}\n", l.forms.join(", ")));
        }
        if let Some(x) = &l.example {
            out.push_str(&format!(
                "       first entry not understood: {}\n",
                printable(x)
            ));
        }
        if let Some(e) = &l.error {
            out.push_str(&format!("       error: {}\n", printable(e)));
        }
        out.push_str(&format!("       {}\n", printable(&l.request)));
    }
    for c in &report.alerts {
        let mark = match (c.ok(), c.checked) {
            (false, _) => "FAIL",
            (true, true) => "ok  ",
            (true, false) => "skip",
        };
        out.push_str(&format!("{mark} {} {}", c.sink, c.what));
        let said: Vec<String> = c
            .status
            .map(|s| s.to_string())
            .into_iter()
            .chain(c.found.as_deref().map(|f| printable(f).into_owned()))
            .collect();
        if !said.is_empty() {
            out.push_str(&format!(": {}", said.join(", ")));
        }
        out.push('\n');
        if let Some(e) = &c.error {
            out.push_str(&format!("       error: {}\n", printable(e)));
        }
    }
    match report.clock_skew_secs {
        Some(s) if s.abs() > crate::upstream::CLOCK_SKEW_WARN_SECS => out.push_str(&format!(
            "FAIL clock: this machine is {}s {} the server (signatures are refused past 2 minutes): sync it (NTP)\n",
            s.abs(),
            if s > 0 { "behind" } else { "ahead of" }
        )),
        Some(s) => out.push_str(&format!("ok   clock: {s}s off the server's Date\n")),
        None => out.push_str("?    clock: the server sent no Date header\n"),
    }
    out.push_str(if report.ok() {
        "Everything answered in the shapes skinscan reads.\n"
    } else {
        "Something did not answer or parse as expected: see FAIL above.\n"
    });
    out
}

/// How long a probe may take in all before it is abandoned.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// The probe of each other market (`[markets.*]`): Skinport's items (and its sales history
/// when scans read it), CSFloat's price list, for the market's first game; each answer
/// parsed as a scan parses it.
pub async fn run_markets(targets: &[crate::references::ProbeTarget]) -> Vec<ProbeLine> {
    use skinscan_sdk::markets::snapshot::ReferenceMarket;
    use skinscan_sdk::markets::{csfloat, skinport};
    let mut lines = Vec::new();
    for t in targets {
        let currency = t.currency;
        match t.market {
            ReferenceMarket::Skinport => {
                let request = skinport::items_request(t.app_id, currency, t.tradable_only);
                let what = format!("skinport items ({}, app_id {})", t.game, t.app_id);
                let (line, _) = ask(&t.upstream, what, request, |b| {
                    skinport::parse_items(b, currency).map(|p| Parsed {
                        entries: p.entries,
                        wire: p.wire,
                        titles: Vec::new(),
                    })
                })
                .await;
                lines.push(line);
                if t.sales_history {
                    let request = skinport::sales_history_request(t.app_id, currency, None);
                    let what = format!("skinport sales history ({})", t.game);
                    let (line, _) = ask(&t.upstream, what, request, |b| {
                        skinport::parse_sales_history(b, currency).map(|p| Parsed {
                            entries: p.entries,
                            wire: p.wire,
                            titles: Vec::new(),
                        })
                    })
                    .await;
                    lines.push(line);
                }
            }
            ReferenceMarket::Csfloat => {
                let what = format!("csfloat price list ({})", t.game);
                let (line, _) = ask(&t.upstream, what, csfloat::price_list_request(), |b| {
                    csfloat::parse_price_list(b).map(|p| Parsed {
                        entries: p.rows,
                        wire: p.wire,
                        titles: Vec::new(),
                    })
                })
                .await;
                lines.push(line);
            }
            _ => {}
        }
    }
    lines
}
