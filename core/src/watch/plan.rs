//! How watch mode shares the listing budget among games: every game keeps a floor of polls
//! (an even share of `floor` of the budget), the rest goes where listings arrive fastest.
//!
//! With polling period `T_g` a listing of game `g` waits `T_g / 2` on average, so the mean
//! delay over all arrivals, `sum(a_g * T_g / 2)`, is smallest under the budget
//! `sum(1 / T_g) = R` when each game's poll rate grows with the square root of its arrival
//! rate `a_g` (Lagrange). Arrivals are counted with opportunities weighted up (they are what
//! a trader waits for) and decay over [`HALF_LIFE`], so the plan follows the market.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How fast old arrivals stop counting.
const HALF_LIFE: Duration = Duration::from_secs(30);
/// An opportunity counts as this many listings.
const OPPORTUNITY_WEIGHT: f64 = 10.0;

/// The plan: per game, a decayed arrival rate; intervals follow from it.
#[derive(Debug)]
pub struct PollPlan {
    budget: f64,
    floor: f64,
    games: Mutex<Vec<Arrivals>>,
}

#[derive(Debug, Clone, Copy)]
struct Arrivals {
    /// Weighted arrivals per second, as of `at`.
    rate: f64,
    at: Instant,
}

impl PollPlan {
    /// A plan for `games` games sharing `budget` polls per second, `floor` (0..=1) of it
    /// split evenly.
    pub fn new(games: usize, budget: f64, floor: f64) -> PollPlan {
        let now = Instant::now();
        PollPlan {
            budget: budget.max(0.001),
            floor: floor.clamp(0.0, 1.0),
            games: Mutex::new(vec![Arrivals { rate: 0.0, at: now }; games.max(1)]),
        }
    }

    fn decayed(a: Arrivals, now: Instant) -> f64 {
        let dt = now.saturating_duration_since(a.at).as_secs_f64();
        a.rate * (-dt * std::f64::consts::LN_2 / HALF_LIFE.as_secs_f64()).exp()
    }

    /// `game`'s poll found `new_listings` listings not seen before, of which `opportunities`
    /// were opportunities (either may be recorded on its own).
    pub fn record(&self, game: usize, new_listings: usize, opportunities: usize) {
        let now = Instant::now();
        let mut games = self.games.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = games.get_mut(game) {
            let weight = new_listings as f64 + OPPORTUNITY_WEIGHT * opportunities as f64;
            // An exponentially decayed count, per second: each arrival adds 1/tau.
            let tau = HALF_LIFE.as_secs_f64() / std::f64::consts::LN_2;
            *a = Arrivals {
                rate: Self::decayed(*a, now) + weight / tau,
                at: now,
            };
        }
    }

    /// Each game's share of the budget now (they sum to 1).
    pub fn shares(&self) -> Vec<f64> {
        let now = Instant::now();
        let games = self.games.lock().unwrap_or_else(|p| p.into_inner());
        let n = games.len() as f64;
        let weights: Vec<f64> = games
            .iter()
            .map(|a| Self::decayed(*a, now).max(0.0).sqrt())
            .collect();
        let total: f64 = weights.iter().sum();
        weights
            .iter()
            .map(|w| {
                if total > 0.0 {
                    self.floor / n + (1.0 - self.floor) * w / total
                } else {
                    1.0 / n
                }
            })
            .collect()
    }

    /// The time between two polls of `game` now.
    pub fn interval(&self, game: usize) -> Duration {
        let share = self.shares().get(game).copied().unwrap_or(0.0);
        let per_sec = (self.budget * share).max(1e-3);
        Duration::from_secs_f64((1.0 / per_sec).min(3_600.0))
    }

    /// Each game's arrival rate (weighted, per second) as last estimated.
    pub fn arrival_rates(&self) -> Vec<f64> {
        let now = Instant::now();
        let games = self.games.lock().unwrap_or_else(|p| p.into_inner());
        games.iter().map(|a| Self::decayed(*a, now)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[tokio::test(start_paused = true)]
    async fn games_share_evenly_until_arrivals_are_known() {
        let plan = PollPlan::new(4, 10.0, 0.5);
        assert!(plan.shares().iter().all(|s| close(*s, 0.25)));
        assert_eq!(plan.interval(2), Duration::from_millis(400));
    }

    #[tokio::test(start_paused = true)]
    async fn a_busier_game_gets_more_by_the_square_root_and_a_quiet_one_keeps_its_floor() {
        let plan = PollPlan::new(3, 12.0, 0.5);
        for _ in 0..10 {
            plan.record(0, 16, 0);
            plan.record(1, 4, 0);
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        let s = plan.shares();
        assert!(close(s.iter().sum::<f64>(), 1.0));
        // Weights sqrt(16) : sqrt(4) : 0 = 2 : 1 : 0 over the half not kept as the floor.
        assert!(close(s[0], 0.5 / 3.0 + 0.5 * 2.0 / 3.0), "{s:?}");
        assert!(close(s[1], 0.5 / 3.0 + 0.5 / 3.0), "{s:?}");
        assert!(close(s[2], 0.5 / 3.0), "{s:?}");
        // The quiet game is still polled: 12/s x 1/6 = every 0.5 s.
        assert_eq!(plan.interval(2), Duration::from_millis(500));
        assert!(plan.interval(0) < plan.interval(1));
    }

    #[tokio::test(start_paused = true)]
    async fn opportunities_count_more_than_listings_and_the_past_fades() {
        let plan = PollPlan::new(2, 10.0, 0.0);
        plan.record(0, 10, 0);
        plan.record(1, 0, 1);
        let s = plan.shares();
        assert!(close(s[0], 0.5) && close(s[1], 0.5), "{s:?}");
        plan.record(1, 0, 3);
        assert!(plan.shares()[1] > 0.6);
        // After ten half-lives the rates are a thousandth of what they were.
        tokio::time::advance(HALF_LIFE * 10).await;
        let rates = plan.arrival_rates();
        assert!(rates.iter().all(|r| *r < 0.01), "{rates:?}");
    }
}
