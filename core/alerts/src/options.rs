//! What an alert sink is configured with: the service (Telegram, Discord, a webhook) and its
//! address and secrets, the filter of what is sent, digest and queue sizes.

use skinscan_net::limit::Rate;
use skinscan_net::secret::Secret;
use skinscan_report::WatchKind;
use skinscan_sdk::{Level, Opportunity};
use std::time::Duration;

/// Which alerts a destination gets.
#[derive(Debug, Clone)]
pub struct AlertFilter {
    /// Only these games (plugin names); empty: every game.
    pub games: Vec<String>,
    /// Net profit at least this, in cents.
    pub min_profit_cents: i64,
    /// ROI at least this, in basis points.
    pub min_roi_bps: i64,
    /// Only these levels; empty: any level (or none).
    pub levels: Vec<Level>,
    /// Only these events (`new` by default; a cycle's finds count as `new`).
    pub events: Vec<WatchKind>,
}

impl Default for AlertFilter {
    fn default() -> Self {
        AlertFilter {
            games: Vec::new(),
            min_profit_cents: 0,
            min_roi_bps: 0,
            levels: Vec::new(),
            events: vec![WatchKind::New],
        }
    }
}

impl AlertFilter {
    /// Whether `kind` of `o` is sent.
    pub fn admits(&self, kind: WatchKind, o: &Opportunity) -> bool {
        self.events.contains(&kind)
            && (self.games.is_empty() || self.games.iter().any(|g| g == o.game.as_str()))
            && o.net_profit.cents() >= self.min_profit_cents
            && o.roi_bps >= self.min_roi_bps
            && (self.levels.is_empty() || o.level.is_some_and(|l| self.levels.contains(&l)))
    }
}

/// Where alerts go.
#[derive(Debug, Clone)]
pub enum Service {
    /// Telegram's Bot API: `sendMessage` to each chat.
    Telegram {
        /// `https://api.telegram.org` unless testing.
        base_url: String,
        /// The bot's token (a secret: it is in the request path).
        token: Secret,
        /// Chat ids (negative for groups and channels).
        chat_ids: Vec<String>,
    },
    /// A Discord webhook (its URL is the secret).
    Discord {
        /// `https://discord.com/api/webhooks/<id>/<token>`.
        url: Secret,
    },
    /// A JSON POST per alert, signed with HMAC-SHA256 over the body when a secret is set.
    Webhook {
        /// Where to.
        url: String,
        /// The shared secret, if any.
        secret: Option<Secret>,
        /// Requests per second at most.
        rate: Rate,
    },
}

/// Telegram's Bot API.
pub(crate) const DEFAULT_TELEGRAM: &str = "https://api.telegram.org";

/// One alert sink's settings.
#[derive(Debug, Clone)]
pub struct AlertOptions {
    /// The service.
    pub service: Service,
    /// What it gets.
    pub filter: AlertFilter,
    /// A backlog of this many alerts or more goes as one digest (0: never; not for webhooks).
    pub digest_at: usize,
    /// Opportunities listed in a digest.
    pub digest_top: usize,
    /// Alerts queued at most while the service is slow or down; more are dropped, counted.
    pub queue: usize,
    /// Attempts per message (the first included).
    pub attempts: u32,
    /// A 429 asking to wait longer than this drops the message instead.
    pub max_wait: Duration,
    /// Each request's timeout.
    pub timeout: Duration,
    /// How long the end of a run waits for the queue to drain.
    pub drain: Duration,
    /// The listing link: `{game}`, `{title}` and `{offer}` are filled in.
    pub link: String,
}

/// DMarket's item page, found by title and offer id.
pub const DEFAULT_LINK: &str =
    "https://dmarket.com/ingame-items/item-list/{game}-skins?title={title}&userOfferId={offer}";

impl AlertOptions {
    /// Defaults for `service`.
    pub fn new(service: Service) -> AlertOptions {
        AlertOptions {
            service,
            filter: AlertFilter::default(),
            digest_at: 5,
            digest_top: 10,
            queue: 1_000,
            attempts: 5,
            max_wait: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            drain: Duration::from_secs(10),
            link: DEFAULT_LINK.to_owned(),
        }
    }
}
