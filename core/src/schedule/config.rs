//! `[scanner]`: cycles and concurrency. The section, its defaults, and the check that turns
//! it into the [`ScanOptions`] the scheduler runs with. The seed bot's spellings are
//! accepted (`parallel_enabled`, `scan_interval = 300`) so its users can bring their config.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use skinscan_settings::{Dur, Invalid, invalid};

/// `[scanner]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScannerConfig {
    /// Scan games in parallel (`PARALLEL_SCANNER_ENABLED`); false scans them in turn. The
    /// seed bot's spelling `parallel_enabled` is accepted too.
    #[serde(alias = "parallel_enabled")]
    pub parallel: bool,
    /// Games scanned at once in parallel mode (`PARALLEL_CONCURRENT_SCANS`).
    pub concurrent_scans: u32,
    /// Time from one cycle's start to the next (`SCAN_INTERVAL`, seconds): `"5m"`, or a
    /// bare number of seconds as the seed bot wrote it (`300`). Cycles never overlap.
    pub scan_interval: Dur,
    /// A game's scan is cancelled after this long and reported as timed out.
    pub game_timeout: Dur,
    /// On shutdown, how long in-flight requests may take to finish.
    pub grace_period: Dur,
}

impl Default for ScannerConfig {
    fn default() -> Self {
        ScannerConfig {
            parallel: true,
            concurrent_scans: 4,
            scan_interval: Dur(Duration::from_secs(60)),
            game_timeout: Dur(Duration::from_secs(120)),
            grace_period: Dur(Duration::from_secs(5)),
        }
    }
}

/// How cycles run, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Parallel or sequential.
    pub parallel: bool,
    /// Games at once (at least 1).
    pub concurrent_scans: usize,
    /// Cycle period.
    pub scan_interval: Duration,
    /// Per-game limit (longer than 0).
    pub game_timeout: Duration,
    /// Shutdown grace.
    pub grace_period: Duration,
}

impl ScannerConfig {
    /// The options, or the first value refused.
    pub fn options(&self) -> Result<ScanOptions, Invalid> {
        if self.concurrent_scans == 0 {
            return Err(invalid(
                "scanner.concurrent_scans",
                "must be at least 1 (games scanned at once)",
            ));
        }
        Ok(ScanOptions {
            parallel: self.parallel,
            concurrent_scans: self.concurrent_scans as usize,
            scan_interval: self.scan_interval.0,
            game_timeout: self.game_timeout.nonzero("scanner.game_timeout")?,
            grace_period: self.grace_period.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ScannerConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn the_seed_bots_spellings_are_accepted() {
        let c = parse("parallel_enabled = false\nconcurrent_scans = 4\nscan_interval = 300\n")
            .expect("the seed's spellings parse");
        let o = c.options().expect("and are valid");
        assert!(!o.parallel);
        assert_eq!(o.concurrent_scans, 4);
        assert_eq!(o.scan_interval, Duration::from_secs(300));
        let c = parse("parallel = false\nscan_interval = \"5m\"\n").expect("ours parse");
        assert_eq!(c.options().unwrap().scan_interval, Duration::from_secs(300));
    }

    #[test]
    fn both_spellings_at_once_are_refused() {
        let err = parse("parallel = true\nparallel_enabled = false\n").unwrap_err();
        assert!(err.contains("duplicate field `parallel`"), "{err}");
    }

    #[test]
    fn zero_games_at_once_and_a_zero_timeout_are_refused_naming_the_key() {
        let c = ScannerConfig {
            concurrent_scans: 0,
            ..ScannerConfig::default()
        };
        assert_eq!(c.options().unwrap_err().key, "scanner.concurrent_scans");
        let c = ScannerConfig {
            game_timeout: Dur(Duration::ZERO),
            ..ScannerConfig::default()
        };
        assert_eq!(
            c.options().unwrap_err().to_string(),
            "scanner.game_timeout must be longer than 0s"
        );
    }
}
