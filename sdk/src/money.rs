//! Money as integer cents with a currency, fees as basis points.
//!
//! Owns every piece of price and fee arithmetic in skinscan. There are no floats here on
//! purpose: a price is parsed from DMarket's string of cents straight into an `i64`, and a fee
//! is rounded *up* to the cent so that a profit we report is never larger than the real one.

use std::fmt;
use std::str::FromStr;

/// A currency DMarket prices items in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Currency {
    /// US dollars, the only currency skinscan scans in today.
    Usd,
}

impl Currency {
    /// The code DMarket uses on the wire (`"USD"`).
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why a price string could not become [`Money`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// The price was an empty string.
    #[error("price is empty")]
    Empty,
    /// The price was negative.
    #[error("price {0:?} is negative")]
    Negative(String),
    /// The price held something other than decimal digits.
    #[error("price {0:?} is not a whole number of cents")]
    NotNumeric(String),
    /// The price does not fit in 64 bits of cents.
    #[error("price {0:?} is too large")]
    Overflow(String),
    /// The price was missing for the expected currency.
    #[error("no {0} price")]
    Missing(Currency),
}

/// An amount of money: whole cents in one currency. May be negative (a loss).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Money {
    cents: i64,
    currency: Currency,
}

impl Money {
    /// `cents` cents of `currency`.
    pub const fn from_cents(cents: i64, currency: Currency) -> Self {
        Self { cents, currency }
    }

    /// `cents` US cents.
    pub const fn usd(cents: i64) -> Self {
        Self::from_cents(cents, Currency::Usd)
    }

    /// Parses DMarket's price string (`"1250"` is $12.50) in `currency`.
    ///
    /// Accepts only ASCII digits (surrounding whitespace is tolerated); anything else is a
    /// typed error, so one bad listing can be skipped and counted.
    pub fn parse_cents(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(MoneyError::Empty);
        }
        if let Some(rest) = t.strip_prefix('-') {
            if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
                return Err(MoneyError::Negative(text.to_owned()));
            }
            return Err(MoneyError::NotNumeric(text.to_owned()));
        }
        if !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MoneyError::NotNumeric(text.to_owned()));
        }
        let cents = t
            .parse::<i64>()
            .map_err(|_| MoneyError::Overflow(text.to_owned()))?;
        Ok(Self::from_cents(cents, currency))
    }

    /// Parses a decimal *dollar* string with at most two decimals (`"12.1"` is $12.10,
    /// `"15.99"`, `"12"`): the unit DMarket's last-sales answers are read in. Anything else,
    /// a negative amount included, is a typed error.
    pub fn parse_dollars(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(MoneyError::Empty);
        }
        if t.starts_with('-') {
            return Err(MoneyError::Negative(text.to_owned()));
        }
        parse_dollars_cents(t)
            .filter(|c| *c >= 0)
            .map(|c| Self::from_cents(c, currency))
            .ok_or_else(|| MoneyError::NotNumeric(text.to_owned()))
    }

    /// The amount in cents.
    pub const fn cents(self) -> i64 {
        self.cents
    }

    /// The currency.
    pub const fn currency(self) -> Currency {
        self.currency
    }

    /// `self - other`, or `None` on overflow or when the currencies differ.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        (self.currency == other.currency)
            .then(|| self.cents.checked_sub(other.cents))
            .flatten()
            .map(|c| Money::from_cents(c, self.currency))
    }
}

impl fmt::Display for Money {
    /// `$12.50`, `-$0.07`; other currencies as `12.50 XYZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        let text = match self.currency {
            Currency::Usd => format!("{sign}${}.{:02}", abs / 100, abs % 100),
        };
        f.pad(&text)
    }
}

/// A rate in basis points: 700 is 7%. Always between 0 and 10,000 inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bps(u32);

/// A basis-point value outside 0..=10,000.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} basis points is not a valid fee (expected 0 to 10000, i.e. 0% to 100%)")]
pub struct BpsError(pub u64);

impl Bps {
    /// 100%.
    pub const MAX: Bps = Bps(10_000);
    /// No fee.
    pub const ZERO: Bps = Bps(0);

    /// A validated basis-point rate.
    pub const fn new(bps: u32) -> Result<Self, BpsError> {
        if bps <= 10_000 {
            Ok(Bps(bps))
        } else {
            Err(BpsError(bps as u64))
        }
    }

    /// The raw value (700 for 7%).
    pub const fn get(self) -> u32 {
        self.0
    }

    /// This rate of `cents`, rounded **up** to the cent (the conservative direction for a fee).
    /// Negative amounts yield zero: there is no fee on nothing.
    pub const fn fee_on(self, cents: i64) -> i64 {
        if cents <= 0 {
            return 0;
        }
        // i128: cents * 10_000 cannot overflow.
        let num = cents as i128 * self.0 as i128;
        ((num + 9_999) / 10_000) as i64
    }

    /// `part / whole` in basis points, rounded toward zero (ROI). `None` when `whole <= 0`.
    pub fn ratio(part: i64, whole: i64) -> Option<i64> {
        if whole <= 0 {
            return None;
        }
        i64::try_from(part as i128 * 10_000 / whole as i128).ok()
    }
}

impl fmt::Display for Bps {
    /// `7%`, `7.35%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&format_bps_percent(i64::from(self.0)))
    }
}

/// Formats a basis-point quantity as a percentage with up to two decimals (`735` → `7.35%`).
pub fn format_bps_percent(bps: i64) -> String {
    let sign = if bps < 0 { "-" } else { "" };
    let abs = bps.unsigned_abs();
    let (whole, frac) = (abs / 100, abs % 100);
    match frac {
        0 => format!("{sign}{whole}%"),
        f if f % 10 == 0 => format!("{sign}{whole}.{}%", f / 10),
        f => format!("{sign}{whole}.{f:02}%"),
    }
}

impl FromStr for Bps {
    type Err = BpsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v: u64 = s.trim().parse().map_err(|_| BpsError(u64::MAX))?;
        u32::try_from(v).map_err(|_| BpsError(v)).and_then(Bps::new)
    }
}

/// Parses a percentage with at most two decimals ("7", "7.35", "0.5") into basis points,
/// without floating point. Used for settings such as `min_roi_percent`.
pub fn parse_percent_bps(text: &str) -> Option<i64> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 2 {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_bps: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    let v = whole.checked_mul(100)?.checked_add(frac_bps)?;
    Some(if neg { -v } else { v })
}

/// Parses a decimal fraction (`"0.05"` is 5%, `"0.0735"` is 7.35%) into basis points without
/// floating point; digits past the fourth decimal round **up** (a fee is never understated).
/// `None` for anything that is not a plain decimal between 0 and 1.
pub fn parse_fraction_bps(text: &str) -> Option<u32> {
    let t = text.trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if (whole.is_empty() && frac.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let (kept, rest) = frac.split_at(frac.len().min(4));
    let mut bps: u64 = kept
        .bytes()
        .fold(0, |acc, b| acc * 10 + u64::from(b - b'0'));
    bps *= 10u64.pow(4 - kept.len() as u32);
    if rest.bytes().any(|b| b != b'0') {
        bps += 1;
    }
    let total = whole.checked_mul(10_000)?.checked_add(bps)?;
    u32::try_from(total).ok().filter(|b| *b <= 10_000)
}

/// Parses a dollar amount with at most two decimals ("0.50", "12", "3.5") into cents.
pub fn parse_dollars_cents(text: &str) -> Option<i64> {
    // Same grammar as a percentage with two decimals: the unit is just 1/100.
    parse_percent_bps(text.trim().trim_start_matches('$'))
}

/// How a decimal amount in major units became whole cents ([`major_units_to_cents`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CentsRounding {
    /// The text held whole cents (`7364.79`, `8212.5`, `12`): nothing was rounded.
    Exact,
    /// Digits past the cent were a binary floating-point artefact, within a millionth of a
    /// cent of a whole cent (`0.30000000000000004`, `0.7999999999999999`): snapped to it.
    Artefact,
    /// A real fraction of a cent (`12.345`, `7727.7733`): rounded toward zero (down).
    SubCentDown,
}

impl CentsRounding {
    /// `exact`, `artefact` or `sub-cent down`: the form name counted in wire statistics.
    pub fn as_str(self) -> &'static str {
        match self {
            CentsRounding::Exact => "exact",
            CentsRounding::Artefact => "artefact",
            CentsRounding::SubCentDown => "sub-cent down",
        }
    }
}

/// Digits past the cent that mark a binary artefact: six zeros (just above a whole cent) or
/// six nines (just below one). An f64 carries about 16 significant digits, so below ten
/// million major units its artefacts always start at least six places past the cent.
const ARTEFACT_DIGITS: usize = 6;

/// Converts a decimal amount in *major* units (a JSON number's exact text, `"7364.79"`,
/// `"8.2125e3"`) into whole cents, without floating point: the one place a market's float
/// money becomes [`Money`] cents.
///
/// **Rule.** The text is read as an exact decimal. Whole cents are kept as they are. Digits
/// past the cent that are a binary artefact (six zeros or six nines right after the cent:
/// `0.1 + 0.2` printed as `0.30000000000000004`) snap to the nearest cent. Any other fraction
/// of a cent rounds **toward zero** (`12.345` is 1234 cents, `12.349` too): these amounts are
/// what another market pays, the exit a listing is judged against, so a rounding never
/// makes one look more profitable than it is. The [`CentsRounding`] says which case it was.
///
/// Negative amounts, text that is not a decimal number, and amounts past `i64` cents are
/// typed errors.
pub fn major_units_to_cents(text: &str) -> Result<(i64, CentsRounding), MoneyError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(MoneyError::Empty);
    }
    let bad = || MoneyError::NotNumeric(text.to_owned());
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => {
            let e = &t[i + 1..];
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad());
            }
            (&t[..i], e.parse::<i64>().map_err(|_| bad())?)
        }
        None => (t, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    if negative {
        return if digits.iter().all(|d| *d == 0) {
            Ok((0, CentsRounding::Exact))
        } else {
            Err(MoneyError::Negative(text.to_owned()))
        };
    }
    // The digits before `cut` are whole cents; the rest is a fraction of a cent.
    let cut = int.len() as i64 + exponent + 2;
    let digit = |i: i64| -> u8 {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut cents: i64 = 0;
    for i in 0..cut.max(0) {
        let d = digit(i);
        if cents == 0 && d == 0 {
            continue;
        }
        cents = cents
            .checked_mul(10)
            .and_then(|c| c.checked_add(i64::from(d)))
            .ok_or_else(|| MoneyError::Overflow(text.to_owned()))?;
    }
    let rest_len = (digits.len() as i64 - cut.max(0)).max(0) + (-cut).max(0);
    let rest = |i: i64| digit(cut + i);
    if (0..rest_len).all(|i| rest(i) == 0) {
        return Ok((cents, CentsRounding::Exact));
    }
    let run = ARTEFACT_DIGITS as i64;
    if rest_len > run && (0..run).all(|i| rest(i) == 0) {
        return Ok((cents, CentsRounding::Artefact));
    }
    if rest_len >= run && (0..run).all(|i| rest(i) == 9) {
        let up = cents
            .checked_add(1)
            .ok_or_else(|| MoneyError::Overflow(text.to_owned()))?;
        return Ok((up, CentsRounding::Artefact));
    }
    Ok((cents, CentsRounding::SubCentDown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_strings_become_exact_cents() {
        let d = |t| Money::parse_dollars(t, Currency::Usd);
        assert_eq!(d("12.1"), Ok(Money::usd(1210)));
        assert_eq!(d("15.99"), Ok(Money::usd(1599)));
        assert_eq!(d("12"), Ok(Money::usd(1200)));
        assert_eq!(d(" 0.05 "), Ok(Money::usd(5)));
        assert_eq!(d(""), Err(MoneyError::Empty));
        assert_eq!(d("-1.00"), Err(MoneyError::Negative("-1.00".into())));
        assert_eq!(d("12.345"), Err(MoneyError::NotNumeric("12.345".into())));
        assert_eq!(d("1e3"), Err(MoneyError::NotNumeric("1e3".into())));
    }

    #[test]
    fn fee_fractions_become_basis_points_rounded_up() {
        assert_eq!(parse_fraction_bps("0.05"), Some(500));
        assert_eq!(parse_fraction_bps("0.0735"), Some(735));
        assert_eq!(parse_fraction_bps(".07"), Some(700));
        assert_eq!(parse_fraction_bps("0.073501"), Some(736));
        assert_eq!(parse_fraction_bps("0.07350000"), Some(735));
        assert_eq!(parse_fraction_bps("1"), Some(10_000));
        assert_eq!(parse_fraction_bps("0"), Some(0));
        assert_eq!(parse_fraction_bps("1.5"), None);
        assert_eq!(parse_fraction_bps("-0.05"), None);
        assert_eq!(parse_fraction_bps("5%"), None);
        assert_eq!(parse_fraction_bps(""), None);
    }

    #[test]
    fn parses_dmarket_cent_strings() {
        assert_eq!(
            Money::parse_cents("1250", Currency::Usd),
            Ok(Money::usd(1250))
        );
        assert_eq!(Money::parse_cents(" 7 ", Currency::Usd), Ok(Money::usd(7)));
        assert_eq!(Money::parse_cents("0", Currency::Usd), Ok(Money::usd(0)));
    }

    #[test]
    fn rejects_bad_price_strings_with_a_typed_reason() {
        assert_eq!(
            Money::parse_cents("", Currency::Usd),
            Err(MoneyError::Empty)
        );
        assert_eq!(
            Money::parse_cents("   ", Currency::Usd),
            Err(MoneyError::Empty)
        );
        assert_eq!(
            Money::parse_cents("-5", Currency::Usd),
            Err(MoneyError::Negative("-5".into()))
        );
        assert_eq!(
            Money::parse_cents("12.50", Currency::Usd),
            Err(MoneyError::NotNumeric("12.50".into()))
        );
        assert_eq!(
            Money::parse_cents("1e3", Currency::Usd),
            Err(MoneyError::NotNumeric("1e3".into()))
        );
        assert_eq!(
            Money::parse_cents("-", Currency::Usd),
            Err(MoneyError::NotNumeric("-".into()))
        );
        assert_eq!(
            Money::parse_cents("99999999999999999999", Currency::Usd),
            Err(MoneyError::Overflow("99999999999999999999".into()))
        );
    }

    #[test]
    fn displays_dollars_from_cents() {
        assert_eq!(Money::usd(1250).to_string(), "$12.50");
        assert_eq!(Money::usd(5).to_string(), "$0.05");
        assert_eq!(Money::usd(-7).to_string(), "-$0.07");
        assert_eq!(format!("{:>8}", Money::usd(100)), "   $1.00");
    }

    #[test]
    fn fee_rounds_up_to_the_cent() {
        let seven = Bps::new(700).unwrap();
        // 7% of $12.50 = 87.5 cents -> 88.
        assert_eq!(seven.fee_on(1250), 88);
        // 7% of $1.00 = exactly 7 cents.
        assert_eq!(seven.fee_on(100), 7);
        // 7% of 1 cent = 0.07 -> 1 cent.
        assert_eq!(seven.fee_on(1), 1);
        assert_eq!(seven.fee_on(0), 0);
        // 7.35% of $10.01 = 73.5735 -> 74.
        assert_eq!(Bps::new(735).unwrap().fee_on(1001), 74);
        assert_eq!(Bps::MAX.fee_on(i64::MAX), i64::MAX);
    }

    #[test]
    fn bps_is_validated() {
        assert!(Bps::new(10_001).is_err());
        assert_eq!("770".parse::<Bps>(), Ok(Bps::new(770).unwrap()));
        assert!("x".parse::<Bps>().is_err());
        assert_eq!(Bps::new(735).unwrap().to_string(), "7.35%");
        assert_eq!(Bps::new(700).unwrap().to_string(), "7%");
        assert_eq!(Bps::new(770).unwrap().to_string(), "7.7%");
    }

    #[test]
    fn ratio_is_in_basis_points_toward_zero() {
        assert_eq!(Bps::ratio(1, 3), Some(3333));
        assert_eq!(Bps::ratio(-1, 3), Some(-3333));
        assert_eq!(Bps::ratio(5, 0), None);
    }

    #[test]
    fn percentages_and_dollars_parse_without_floats() {
        assert_eq!(parse_percent_bps("7"), Some(700));
        assert_eq!(parse_percent_bps("7.35"), Some(735));
        assert_eq!(parse_percent_bps("0.5"), Some(50));
        assert_eq!(parse_percent_bps(".5"), Some(50));
        assert_eq!(parse_percent_bps("-2"), Some(-200));
        assert_eq!(parse_percent_bps("1.234"), None);
        assert_eq!(parse_percent_bps("abc"), None);
        assert_eq!(parse_percent_bps("."), None);
        assert_eq!(parse_dollars_cents("$0.50"), Some(50));
        assert_eq!(parse_dollars_cents("1000"), Some(100_000));
    }

    #[test]
    fn subtraction_checks_currency_and_overflow() {
        assert_eq!(
            Money::usd(10).checked_sub(Money::usd(25)),
            Some(Money::usd(-15))
        );
        assert_eq!(Money::usd(i64::MIN).checked_sub(Money::usd(1)), None);
    }

    #[test]
    fn major_units_become_cents_exactly_once() {
        let c = |t: &str| major_units_to_cents(t);
        use CentsRounding::*;
        // Skinport's recorded answer (markets.md §1): floats in major units.
        assert_eq!(c("7364.79"), Ok((736_479, Exact)));
        assert_eq!(c("8212.5"), Ok((821_250, Exact)));
        assert_eq!(c("28.82"), Ok((2_882, Exact)));
        assert_eq!(c("12"), Ok((1_200, Exact)));
        assert_eq!(c("0"), Ok((0, Exact)));
        assert_eq!(c("0.01"), Ok((1, Exact)));
        assert_eq!(c("3435.920"), Ok((343_592, Exact)));
    }

    #[test]
    fn binary_artefacts_snap_to_the_cent_they_stand_for() {
        use CentsRounding::*;
        // What 0.1 + 0.2 prints as: just above 30 cents.
        let sum = format!("{}", 0.1f64 + 0.2f64);
        assert_eq!(sum, "0.30000000000000004");
        assert_eq!(major_units_to_cents(&sum), Ok((30, Artefact)));
        // Just below a cent: 0.7 + 0.1 and 1.1 * 3.
        let below = format!("{}", 0.7f64 + 0.1f64);
        assert_eq!(below, "0.7999999999999999");
        assert_eq!(major_units_to_cents(&below), Ok((80, Artefact)));
        let times = format!("{}", 1.1f64 * 3.0);
        assert_eq!(times, "3.3000000000000003");
        assert_eq!(major_units_to_cents(&times), Ok((330, Artefact)));
        assert_eq!(
            major_units_to_cents("7727.7699999999995"),
            Ok((772_777, Artefact))
        );
        assert_eq!(
            major_units_to_cents("0.29999999999999998"),
            Ok((30, Artefact))
        );
    }

    #[test]
    fn a_real_fraction_of_a_cent_rounds_toward_zero() {
        use CentsRounding::*;
        assert_eq!(major_units_to_cents("12.345"), Ok((1_234, SubCentDown)));
        assert_eq!(major_units_to_cents("12.349"), Ok((1_234, SubCentDown)));
        assert_eq!(major_units_to_cents("12.3450001"), Ok((1_234, SubCentDown)));
        assert_eq!(major_units_to_cents("12.34999"), Ok((1_234, SubCentDown)));
        assert_eq!(major_units_to_cents("0.005"), Ok((0, SubCentDown)));
        assert_eq!(
            major_units_to_cents("7727.773333"),
            Ok((772_777, SubCentDown))
        );
    }

    #[test]
    fn exponents_and_bad_or_negative_amounts() {
        use CentsRounding::*;
        let c = |t: &str| major_units_to_cents(t);
        assert_eq!(c("8.2125e3"), Ok((821_250, Exact)));
        assert_eq!(c("1E2"), Ok((10_000, Exact)));
        assert_eq!(c("1.5e-2"), Ok((1, SubCentDown)));
        assert_eq!(c("5e-3"), Ok((0, SubCentDown)));
        assert_eq!(c("1e-7"), Ok((0, SubCentDown)));
        assert_eq!(c(".5"), Ok((50, Exact)));
        assert_eq!(c("-0.0"), Ok((0, Exact)));
        assert_eq!(c("-1.5"), Err(MoneyError::Negative("-1.5".into())));
        assert_eq!(c(""), Err(MoneyError::Empty));
        for bad in [
            ".", "1.2.3", "abc", "1e", "1e+", "NaN", "1,5", "+1", "0x10", "1e99999",
        ] {
            assert_eq!(c(bad), Err(MoneyError::NotNumeric(bad.into())), "{bad}");
        }
        assert_eq!(c("1e300"), Err(MoneyError::Overflow("1e300".into())));
        assert_eq!(
            c("92233720368547758.08"),
            Err(MoneyError::Overflow("92233720368547758.08".into()))
        );
        assert_eq!(c("92233720368547758.07"), Ok((i64::MAX, Exact)));
    }
}
