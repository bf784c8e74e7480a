//! When to try a delivery again.

use std::time::Duration;

/// The delays before each attempt of a delivery, with jitter.
///
/// The default follows common practice (and the Standard Webhooks recommendation): at once,
/// then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, each varied by up to ±20 % so that
/// retries to a struggling receiver spread out.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    kind: Kind,
    jitter: f64,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    List(Vec<Duration>),
    Exponential {
        first: Duration,
        cap: Duration,
        attempts: u32,
    },
}

impl Default for Schedule {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Schedule::list(vec![
            Duration::ZERO,
            Duration::from_secs(5),
            minutes(5),
            minutes(30),
            minutes(120),
            minutes(300),
            minutes(600),
            minutes(600),
        ])
    }
}

impl Schedule {
    /// The delay before each attempt, the first included (usually zero), with ±20 % jitter.
    pub fn list(delays: Vec<Duration>) -> Self {
        Schedule {
            kind: Kind::List(delays),
            jitter: 0.2,
        }
    }

    /// `attempts` attempts: the first at once, then after `first`, doubling up to `cap`.
    pub fn exponential(first: Duration, cap: Duration, attempts: u32) -> Self {
        Schedule {
            kind: Kind::Exponential {
                first,
                cap,
                attempts,
            },
            jitter: 0.2,
        }
    }

    /// The jitter as a fraction (0.2 is ±20 %), clamped to 0..=1.
    #[must_use]
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// How many attempts the schedule allows in all.
    pub fn attempts(&self) -> u32 {
        match &self.kind {
            Kind::List(delays) => u32::try_from(delays.len()).unwrap_or(u32::MAX),
            Kind::Exponential { attempts, .. } => *attempts,
        }
    }

    /// The delay before attempt number `attempt` (0 for the first) without jitter, or `None`
    /// after the last.
    pub fn nominal(&self, attempt: u32) -> Option<Duration> {
        match &self.kind {
            Kind::List(delays) => delays.get(usize::try_from(attempt).ok()?).copied(),
            Kind::Exponential {
                first,
                cap,
                attempts,
            } => match attempt {
                a if a >= *attempts => None,
                0 => Some(Duration::ZERO),
                a => Some(
                    first
                        .checked_mul(1u32.checked_shl(a - 1).unwrap_or(u32::MAX))
                        .unwrap_or(*cap)
                        .min(*cap),
                ),
            },
        }
    }

    /// The delay before attempt number `attempt`, with jitter, or `None` after the last.
    pub fn delay(&self, attempt: u32) -> Option<Duration> {
        let nominal = self.nominal(attempt)?;
        if self.jitter == 0.0 || nominal.is_zero() {
            return Some(nominal);
        }
        // A uniform factor in [1 - jitter, 1 + jitter].
        let unit = getrandom::u64().map_or(0.5, |r| (r >> 11) as f64 / (1u64 << 53) as f64);
        let factor = 1.0 + self.jitter * (2.0 * unit - 1.0);
        // Checked: a delay near `Duration::MAX` stretched by the jitter saturates, never panics.
        Some(
            Duration::try_from_secs_f64(nominal.as_secs_f64() * factor.max(0.0))
                .unwrap_or(Duration::MAX),
        )
    }
}
