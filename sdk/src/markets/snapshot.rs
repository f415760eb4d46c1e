//! The reference book of one market: prices by `market_hash_name` (and phase, for a
//! Doppler) in integer cents, with when it was fetched. A [`Snapshot`] is built from one
//! market's bulk answers ([`SnapshotBuilder`]), kept in memory between refreshes, and asked
//! through [`Snapshot::lookup`], which refuses a stale snapshot, an unknown phase and a
//! reference that pools phases, each with its own [`LookupError`].
//!
//! Memory: ~20,000 names per game. Rows are one sorted `Vec` (binary search), each holding
//! its name once as a `Box<str>` (moved from the parsed answer, not copied) and fixed-size
//! prices: no map overhead, no other string per row. A Doppler's name is repeated only once
//! per phase (at most eight rows).
//!
//! Time is unix seconds given by the caller (the sdk has no clock of its own).

use std::fmt;
use std::time::Duration;

use crate::markets::phase::{Phase, price_depends_on_phase};
use crate::model::WireStats;
use crate::money::{Currency, Money};

/// The market a snapshot references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ReferenceMarket {
    /// Skinport.
    Skinport,
    /// CSFloat.
    Csfloat,
}

impl ReferenceMarket {
    /// `skinport`, `csfloat`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferenceMarket::Skinport => "skinport",
            ReferenceMarket::Csfloat => "csfloat",
        }
    }
}

impl From<ReferenceMarket> for crate::model::Market {
    fn from(m: ReferenceMarket) -> Self {
        match m {
            ReferenceMarket::Skinport => crate::model::Market::Skinport,
            ReferenceMarket::Csfloat => crate::model::Market::Csfloat,
        }
    }
}

impl fmt::Display for ReferenceMarket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What one market says of one name (and phase). Every price is in the snapshot's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Quote {
    /// The lowest listing: Skinport `min_price`, CSFloat price-list `min_price`.
    pub lowest: Option<Money>,
    /// The median sale of the last 7 days (Skinport sales history).
    pub median_7d: Option<Money>,
    /// Sales in the last 7 days (Skinport sales history), when known.
    pub volume_7d: Option<u32>,
    /// Skinport's `suggested_price`.
    pub suggested: Option<Money>,
    /// Steam's price as the market reports it (CSFloat `item.scm`): informational.
    pub steam: Option<Money>,
    /// Listings on sale.
    pub quantity: u32,
}

/// Why a lookup found no usable reference. Each has its own [`LookupError::reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The snapshot is older than the `max_age` asked (or its time is further in the future
    /// than that: a clock that moved back never makes a snapshot fresh forever).
    #[error(
        "the {market} snapshot is stale: {part} was fetched {}, more than the {max_age_secs}s allowed; \
         it is not used until a refresh succeeds",
        describe_age(*age_secs)
    )]
    Stale {
        /// The market.
        market: ReferenceMarket,
        /// The oldest part (`skinport items`).
        part: &'static str,
        /// Its age, seconds (negative: in the future).
        age_secs: i64,
        /// The allowed age, seconds.
        max_age_secs: u64,
    },
    /// Nothing was ever fetched.
    #[error("no {market} snapshot has been fetched yet")]
    NeverFetched {
        /// The market.
        market: ReferenceMarket,
    },
    /// The title's price depends on a phase, and the listing's phase is not known.
    #[error("{title:?} is priced by its Doppler phase, and the listing's phase is unknown")]
    PhaseUnknown {
        /// The title.
        title: String,
    },
    /// The market lists the title only with its phases pooled (CSFloat's price list).
    #[error(
        "{market} prices {title:?} with its Doppler phases pooled: not comparable to one phase"
    )]
    PhasePooled {
        /// The market.
        market: ReferenceMarket,
        /// The title.
        title: String,
    },
    /// The market does not list the name (in that phase).
    #[error("{market} has no price for {title:?}{}", phase.map(|p| format!(" ({p})")).unwrap_or_default())]
    NotListed {
        /// The market.
        market: ReferenceMarket,
        /// The title.
        title: String,
        /// The phase asked, if any.
        phase: Option<Phase>,
    },
}

/// `601s ago`, or `601s in the future` (this machine's clock went back).
fn describe_age(age_secs: i64) -> String {
    if age_secs < 0 {
        format!("{}s in the future", age_secs.unsigned_abs())
    } else {
        format!("{age_secs}s ago")
    }
}

impl LookupError {
    /// A snake_case name for counting refusals: `stale_reference`, `never_fetched`,
    /// `phase_unknown`, `phase_pooled`, `not_listed`.
    pub fn reason(&self) -> &'static str {
        match self {
            LookupError::Stale { .. } => "stale_reference",
            LookupError::NeverFetched { .. } => "never_fetched",
            LookupError::PhaseUnknown { .. } => "phase_unknown",
            LookupError::PhasePooled { .. } => "phase_pooled",
            LookupError::NotListed { .. } => "not_listed",
        }
    }
}

/// One part a snapshot was built from, and when it was fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// The endpoint (`skinport items`).
    pub name: &'static str,
    /// When it was fetched, unix seconds.
    pub fetched_at: i64,
    /// Rows it added or merged.
    pub rows: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    name: Box<str>,
    phase: Option<Phase>,
    quote: Quote,
}

impl Row {
    fn key(&self) -> (&str, Option<Phase>) {
        (&self.name, self.phase)
    }
}

/// One market's reference book. Built by [`SnapshotBuilder`]; read by [`Snapshot::lookup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    market: ReferenceMarket,
    currency: Currency,
    rows: Vec<Row>,
    parts: Vec<Part>,
    wire: WireStats,
}

impl Snapshot {
    /// The market.
    pub fn market(&self) -> ReferenceMarket {
        self.market
    }

    /// The currency every price is in.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Rows (names, and phases of Dopplers).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no row is held.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The parts it was built from.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The oldest part's fetch time: the snapshot is as old as its oldest part. `None` when
    /// nothing was fetched.
    pub fn fetched_at(&self) -> Option<i64> {
        self.oldest().map(|p| p.fetched_at)
    }

    /// What building it dropped (`duplicate row`) and saw.
    pub fn wire(&self) -> &WireStats {
        &self.wire
    }

    /// Seconds since the oldest part was fetched, at `now` (negative: in the future).
    pub fn age_secs(&self, now: i64) -> Option<i64> {
        self.fetched_at().map(|t| now.saturating_sub(t))
    }

    /// Every row, sorted by name then phase, whatever the freshness (for metrics and
    /// history; judging goes through [`Snapshot::lookup`]).
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<Phase>, &Quote)> {
        self.rows.iter().map(|r| (&*r.name, r.phase, &r.quote))
    }

    fn oldest(&self) -> Option<&Part> {
        self.parts.iter().min_by_key(|p| p.fetched_at)
    }

    /// True when every part was fetched at most `max_age` before `now` (and not more than
    /// `max_age` after it).
    pub fn is_fresh(&self, now: i64, max_age: Duration) -> bool {
        self.freshness(now, max_age).is_ok()
    }

    /// `Ok` when fresh, else the [`LookupError`] every lookup returns.
    pub fn freshness(&self, now: i64, max_age: Duration) -> Result<(), LookupError> {
        let oldest = self.oldest().ok_or(LookupError::NeverFetched {
            market: self.market,
        })?;
        let newest = self
            .parts
            .iter()
            .map(|p| p.fetched_at)
            .max()
            .unwrap_or(oldest.fetched_at);
        let max = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        let age = now.saturating_sub(oldest.fetched_at);
        let ahead = now.saturating_sub(newest);
        if age > max || ahead < max.saturating_neg() {
            let (part, age_secs) = if age > max {
                (oldest.name, age)
            } else {
                let p = self
                    .parts
                    .iter()
                    .max_by_key(|p| p.fetched_at)
                    .unwrap_or(oldest);
                (p.name, ahead)
            };
            return Err(LookupError::Stale {
                market: self.market,
                part,
                age_secs,
                max_age_secs: max_age.as_secs(),
            });
        }
        Ok(())
    }

    /// The quote for `title` in `phase`, when the snapshot is fresh at `now`.
    ///
    /// A title whose price depends on a phase ([`price_depends_on_phase`]) needs `phase`
    /// ([`LookupError::PhaseUnknown`]) and a row of that phase; a market that lists it only
    /// pooled refuses with [`LookupError::PhasePooled`]. For any other title `phase` is
    /// ignored. Names match exactly (`market_hash_name` = DMarket `title`).
    pub fn lookup(
        &self,
        now: i64,
        max_age: Duration,
        title: &str,
        phase: Option<Phase>,
    ) -> Result<&Quote, LookupError> {
        self.freshness(now, max_age)?;
        let not_listed = |phase| LookupError::NotListed {
            market: self.market,
            title: title.to_owned(),
            phase,
        };
        if !price_depends_on_phase(title) {
            return self.find(title, None).ok_or_else(|| not_listed(None));
        }
        let Some(phase) = phase else {
            return Err(LookupError::PhaseUnknown {
                title: title.to_owned(),
            });
        };
        if let Some(q) = self.find(title, Some(phase)) {
            return Ok(q);
        }
        if self.find(title, None).is_some() {
            return Err(LookupError::PhasePooled {
                market: self.market,
                title: title.to_owned(),
            });
        }
        Err(not_listed(Some(phase)))
    }

    fn find(&self, title: &str, phase: Option<Phase>) -> Option<&Quote> {
        self.rows
            .binary_search_by(|r| r.key().cmp(&(title, phase)))
            .ok()
            .map(|i| &self.rows[i].quote)
    }
}

/// Builds a [`Snapshot`] from one market's parsed answers. Each part records its own fetch
/// time; the snapshot's age is its oldest part's. A name (and phase) given twice by the same
/// part is counted (`duplicate row`) and the lower lowest price kept.
#[derive(Debug)]
pub struct SnapshotBuilder {
    market: ReferenceMarket,
    currency: Currency,
    rows: Vec<(Row, usize)>,
    parts: Vec<Part>,
    wire: WireStats,
}

/// The endpoint name of the builder's own counts.
const BUILD: &str = "snapshot";

impl SnapshotBuilder {
    /// An empty book of `market` in `currency`.
    pub fn new(market: ReferenceMarket, currency: Currency) -> Self {
        SnapshotBuilder {
            market,
            currency,
            rows: Vec::new(),
            parts: Vec::new(),
            wire: WireStats::default(),
        }
    }

    /// Adds one row of the part being added: `set` fills its quote. A phase on a title whose
    /// price does not depend on one is dropped (counted `phase on a plain title`).
    pub(crate) fn push(
        &mut self,
        name: String,
        phase: Option<Phase>,
        set: impl FnOnce(&mut Quote),
    ) {
        let phase = match phase {
            Some(_) if !price_depends_on_phase(&name) => {
                self.wire.saw(BUILD, "phase on a plain title");
                None
            }
            p => p,
        };
        let mut quote = Quote::default();
        set(&mut quote);
        let part = self.parts.len();
        self.rows.push((
            Row {
                name: name.into_boxed_str(),
                phase,
                quote,
            },
            part,
        ));
    }

    /// The builder's wire counts, for a part's parser counts to merge into.
    pub(crate) fn wire_mut(&mut self) -> &mut WireStats {
        &mut self.wire
    }

    pub(crate) fn part(&mut self, name: &'static str, fetched_at: i64, rows: usize) {
        self.parts.push(Part {
            name,
            fetched_at,
            rows,
        });
    }

    /// Adds every row of `snapshot` as one part with its oldest part's name and time (so the
    /// result is as old as `snapshot`): a snapshot refined by a later, partial answer, given
    /// first, keeps everything else it had.
    pub fn rows_of(mut self, snapshot: &Snapshot) -> Self {
        let Some(oldest) = snapshot.oldest().copied() else {
            return self;
        };
        self.wire.merge(snapshot.wire());
        for row in &snapshot.rows {
            let quote = row.quote;
            self.push(row.name.to_string(), row.phase, |q| *q = quote);
        }
        self.part(oldest.name, oldest.fetched_at, snapshot.rows.len());
        self
    }

    /// Adds rows of another source (`part` names it, `skinport items` style): for quotes
    /// read elsewhere, such as a candidate's CSFloat listings.
    pub fn quotes(
        mut self,
        part: &'static str,
        fetched_at: i64,
        rows: impl IntoIterator<Item = (String, Option<Phase>, Quote)>,
    ) -> Self {
        let mut n = 0;
        for (name, phase, quote) in rows {
            self.push(name, phase, |q| *q = quote);
            n += 1;
        }
        self.part(part, fetched_at, n);
        self
    }

    /// The snapshot: rows sorted by name and phase, each part's fields merged into one
    /// quote per row.
    pub fn build(mut self) -> Snapshot {
        self.rows
            .sort_by(|(a, pa), (b, pb)| a.key().cmp(&b.key()).then(pa.cmp(pb)));
        let mut rows: Vec<Row> = Vec::with_capacity(self.rows.len());
        let mut last_part = usize::MAX;
        for (row, part) in self.rows {
            match rows.last_mut() {
                Some(prev) if prev.key() == row.key() => {
                    if part == last_part {
                        self.wire
                            .drop_entry(BUILD, "duplicate row", &format!("{:?}", row.key()));
                        prev.quote.lowest = lower(prev.quote.lowest, row.quote.lowest);
                    } else {
                        merge(&mut prev.quote, &row.quote);
                    }
                }
                _ => rows.push(row),
            }
            last_part = part;
        }
        rows.shrink_to_fit();
        Snapshot {
            market: self.market,
            currency: self.currency,
            rows,
            parts: self.parts,
            wire: self.wire,
        }
    }
}

fn lower(a: Option<Money>, b: Option<Money>) -> Option<Money> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.cents() < a.cents() { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Fills `into`'s empty fields from `from` (another part's view of the same row).
fn merge(into: &mut Quote, from: &Quote) {
    into.lowest = into.lowest.or(from.lowest);
    into.median_7d = into.median_7d.or(from.median_7d);
    into.volume_7d = into.volume_7d.or(from.volume_7d);
    into.suggested = into.suggested.or(from.suggested);
    into.steam = into.steam.or(from.steam);
    into.quantity = into.quantity.max(from.quantity);
}

#[cfg(test)]
mod tests;
