//! The living market: per game, new listings arrive as a Poisson process, priced around
//! their title's value with a share well under it; ordinary listings sell after a long random
//! lifetime, underpriced ones are bought by simulated competitors after an exponential one.
//! The schedule is a pure function of the seed and the time since start, materialised as time
//! passes, and the ground truth (every underpriced listing, when it came and went, its
//! profit) is served at `GET /__sim/truth`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::catalogue::{Catalogue, SimListing};
use crate::rng::Rng;

/// How the living market moves.
#[derive(Debug, Clone, PartialEq)]
pub struct LivingConfig {
    /// New listings per second, per game.
    pub arrivals_per_sec: f64,
    /// Games whose listings arrive at their own rate instead: (gameId, per second).
    pub game_rates: Vec<(String, f64)>,
    /// Share of new listings priced well under value (profitable after the fee).
    pub underpriced_share: f64,
    /// Mean time before a competitor buys an underpriced listing.
    pub competitor_mean: Duration,
    /// Mean lifetime of an ordinary listing.
    pub lifetime_mean: Duration,
}

impl Default for LivingConfig {
    fn default() -> Self {
        LivingConfig {
            arrivals_per_sec: 2.0,
            game_rates: Vec::new(),
            underpriced_share: 0.1,
            competitor_mean: Duration::from_secs(20),
            lifetime_mean: Duration::from_secs(1_800),
        }
    }
}

/// One listing that arrived after start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    pub(crate) listing: SimListing,
    /// Seconds since start at which it leaves the market.
    pub(crate) gone: f64,
}

#[derive(Debug)]
struct LiveGame {
    rng: Rng,
    next: f64,
    count: u64,
    live: Vec<Arrival>,
}

/// An underpriced listing, as the ground truth knows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TruthEntry {
    /// Its offer id (what a client reports).
    pub offer_id: String,
    /// Its game.
    pub game: String,
    /// Its title.
    pub title: String,
    /// Its price, in cents.
    pub price_cents: i64,
    /// Unix time it was listed, with its fraction.
    pub created: f64,
    /// Unix time a competitor bought it.
    pub gone: f64,
    /// Selling into the best buy order after a 7% fee, in cents.
    pub profit_cents: i64,
    /// Unix time a client bought it through `offers-buy`, before the competitor did.
    pub bought_at: Option<f64>,
}

/// The living part of the market.
#[derive(Debug)]
pub(crate) struct Living {
    pub(crate) config: LivingConfig,
    seed: u64,
    /// Unix seconds at start.
    pub(crate) start_unix: f64,
    games: Mutex<HashMap<String, LiveGame>>,
    truth: Mutex<Vec<TruthEntry>>,
}

/// Sequence numbers of arrivals start here, so their ids never meet the catalogue's.
const ARRIVAL_SEQ: u64 = 1 << 40;

fn exp(rng: &mut Rng, mean: f64) -> f64 {
    -mean * (1.0 - rng.unit()).ln()
}

impl Living {
    pub(crate) fn new(config: LivingConfig, seed: u64, start_unix: f64) -> Living {
        Living {
            config,
            seed,
            start_unix,
            games: Mutex::new(HashMap::new()),
            truth: Mutex::new(Vec::new()),
        }
    }

    /// Materialises arrivals up to `now` (seconds since start) and returns the listings of
    /// `game` live at `now`.
    pub(crate) fn live(&self, catalogue: &Catalogue, game: &str, now: f64) -> Vec<Arrival> {
        let Some(g) = catalogue.games.get(game) else {
            return Vec::new();
        };
        let rate = self
            .config
            .game_rates
            .iter()
            .find(|(g, _)| g == game)
            .map_or(self.config.arrivals_per_sec, |(_, r)| *r)
            .max(1e-9);
        let mut games = self.games.lock().unwrap_or_else(|p| p.into_inner());
        let state = games.entry(game.to_owned()).or_insert_with(|| {
            let stream = game
                .bytes()
                .fold(0x11u64, |h, b| h.wrapping_mul(31) ^ u64::from(b));
            let mut rng = Rng::derive(self.seed, stream, 0x11fe);
            let first = exp(&mut rng, 1.0 / rate);
            LiveGame {
                rng,
                next: first,
                count: 0,
                live: Vec::new(),
            }
        });
        let mut new_truth = Vec::new();
        while state.next <= now {
            let rng = &mut state.rng;
            let t = rng.below(g.titles.len() as u64) as u32;
            let title = &g.titles[t as usize];
            let underpriced = title.best_order > 0 && rng.unit() < self.config.underpriced_share;
            let price = if underpriced {
                title.value * (60 + rng.below(15) as i64) / 100
            } else {
                title.value * (100 + rng.below(26) as i64) / 100
            }
            .max(1);
            let mean = if underpriced {
                self.config.competitor_mean
            } else {
                self.config.lifetime_mean
            };
            let created = state.next;
            let gone = created + exp(rng, mean.as_secs_f64());
            let seq = ARRIVAL_SEQ + state.count;
            state.count += 1;
            let listing = SimListing {
                price,
                title: t,
                seq,
                created_at: (self.start_unix + created) as i64,
                lock_days: 0,
                float_micro: None,
            };
            if underpriced {
                new_truth.push(TruthEntry {
                    offer_id: crate::catalogue::uuid(self.seed, game, 3, seq),
                    game: game.to_owned(),
                    title: title.name.clone(),
                    price_cents: price,
                    created: self.start_unix + created,
                    gone: self.start_unix + gone,
                    profit_cents: title.best_order - (title.best_order * 7 + 99) / 100 - price,
                    bought_at: None,
                });
            }
            state.live.push(Arrival { listing, gone });
            state.next += exp(&mut state.rng, 1.0 / rate);
        }
        state.live.retain(|a| a.gone > now);
        drop(games);
        if !new_truth.is_empty() {
            self.truth
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(new_truth);
        }
        let games = self.games.lock().unwrap_or_else(|p| p.into_inner());
        games.get(game).map(|s| s.live.clone()).unwrap_or_default()
    }

    /// A client bought arrival `seq` of `game` at `now` (seconds since start): it leaves the
    /// market, and the truth says who won.
    pub(crate) fn bought(&self, game: &str, seq: u64, now: f64) {
        let mut games = self.games.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(g) = games.get_mut(game) {
            g.live.retain(|a| a.listing.seq != seq);
        }
        drop(games);
        let id = crate::catalogue::uuid(self.seed, game, 3, seq);
        let mut truth = self.truth.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = truth
            .iter_mut()
            .find(|t| t.offer_id == id && t.game == game)
        {
            t.bought_at = Some(self.start_unix + now);
        }
    }

    /// Every underpriced listing that has arrived so far (in every game asked about).
    pub(crate) fn truth(&self, catalogue: &Catalogue, now: f64) -> Vec<TruthEntry> {
        for game in catalogue.games.keys() {
            self.live(catalogue, game, now);
        }
        self.truth.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_deterministic_poisson_and_underpriced_ones_leave_soon() {
        let cat = Catalogue::generate(5, 300);
        let config = LivingConfig {
            arrivals_per_sec: 20.0,
            game_rates: vec![("9a92".to_owned(), 2.0)],
            underpriced_share: 0.2,
            competitor_mean: Duration::from_secs(2),
            lifetime_mean: Duration::from_secs(10_000),
        };
        let a = Living::new(config.clone(), 5, 1_000_000.0);
        let b = Living::new(config, 5, 1_000_000.0);
        // Asked at different moments, the same seed gives the same market.
        a.live(&cat, "a8db", 30.0);
        let la = a.live(&cat, "a8db", 60.0);
        let lb = b.live(&cat, "a8db", 60.0);
        let ids = |l: &[Arrival]| l.iter().map(|x| x.listing.seq).collect::<Vec<_>>();
        assert_eq!(ids(&la), ids(&lb));
        let truth = a.truth(&cat, 60.0);
        let in_game: Vec<_> = truth.iter().filter(|t| t.game == "a8db").collect();
        // About 60 s x 20/s x 20% = 240 underpriced arrivals.
        assert!((150..=350).contains(&in_game.len()), "{}", in_game.len());
        assert!(
            in_game
                .iter()
                .all(|t| t.profit_cents > 0 && t.gone > t.created)
        );
        // Competitors buy within seconds: few underpriced ones are live at any moment.
        let now = 1_000_060.0;
        let live_under = in_game.iter().filter(|t| t.gone > now).count();
        assert!(live_under < 30, "{live_under} underpriced still listed");
        assert!(
            la.iter()
                .all(|x| x.gone > 60.0 && x.listing.created_at <= 1_000_060)
        );
        let listed: std::collections::HashSet<u64> = la.iter().map(|x| x.listing.seq).collect();
        // A game with its own rate: 2/s, a tenth of the others'.
        let slow = truth.iter().filter(|t| t.game == "9a92").count();
        assert!(
            (5..=50).contains(&slow),
            "{slow} underpriced in the slow game"
        );
        // ~1,200 arrivals, ~240 of them underpriced and mostly bought already.
        assert!(
            (800..=1_100).contains(&listed.len()),
            "{} live",
            listed.len()
        );
    }
}
