//! A rate limit as an operator writes it: `20/s:40` is 20 requests a second
//! with bursts of up to 40; `off` is no limit.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSpec {
    /// Requests allowed per `period` on average.
    pub count: u32,
    pub period: Duration,
    /// Requests allowed at once after a quiet spell.
    pub burst: u32,
}

impl LimitSpec {
    pub const fn per_second(count: u32, burst: u32) -> Self {
        Self {
            count,
            period: Duration::from_secs(1),
            burst,
        }
    }

    /// The time one request's allowance takes to come back (GCRA's
    /// emission interval).
    pub fn interval(&self) -> Duration {
        self.period / self.count
    }

    /// `<count>/<s|m|h>[:<burst>]` or `off` (None). The burst defaults to
    /// the count.
    pub fn parse(text: &str) -> Result<Option<Self>, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad =
            || format!("expected <count>/<s|m|h>[:<burst>] or off, like 20/s:40, got {text:?}");
        let (rate, burst) = match text.split_once(':') {
            Some((rate, burst)) => (rate, Some(burst)),
            None => (text, None),
        };
        let (count, unit) = rate.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let period = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        let burst = match burst {
            Some(b) => b.trim().parse().map_err(|_| bad())?,
            None => count,
        };
        if count == 0 || burst == 0 || count > 1_000_000 || burst > 1_000_000 {
            return Err(format!(
                "{text:?}: count and burst must be between 1 and 1000000 (write off for no limit)"
            ));
        }
        Ok(Some(Self {
            count,
            period,
            burst,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_and_without_a_burst() {
        assert_eq!(
            LimitSpec::parse("20/s:40").unwrap(),
            Some(LimitSpec::per_second(20, 40))
        );
        let spec = LimitSpec::parse("30/m").unwrap().unwrap();
        assert_eq!((spec.count, spec.burst), (30, 30));
        assert_eq!(spec.interval(), Duration::from_secs(2));
        assert_eq!(LimitSpec::parse("OFF").unwrap(), None);
        for bad in ["20", "20/d", "0/s", "20/s:0", "x/s", "20/s:many", ""] {
            assert!(LimitSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
