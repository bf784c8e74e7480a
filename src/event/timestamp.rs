//! [`Timestamp`]: CloudEvents' point in time, in hookwire's own type.

use std::fmt;
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::EventError;

/// A point in time with the UTC offset it was written with: the CloudEvents `Timestamp` type,
/// read and written in RFC 3339 (years 0000 to 9999).
///
/// It converts from [`SystemTime`] and back; with the `time`, `chrono` or `jiff` features, to and
/// from those crates' types too. Two timestamps compare by the instant they denote.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hookwire::event::Timestamp;
///
/// let at = Timestamp::parse("2018-04-05T19:31:00+02:00")?;
/// assert_eq!(at.to_string(), "2018-04-05T19:31:00+02:00");
/// assert_eq!(at.to_system_time(), Some(UNIX_EPOCH + Duration::from_secs(1522949460)));
/// assert_eq!(at.unix_seconds(), 1522949460);
/// # Ok::<(), hookwire::event::EventError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The system clock's now, in UTC.
    ///
    /// # Panics
    ///
    /// If the system clock lies outside the years 0000 to 9999.
    pub fn now() -> Self {
        match Self::try_from(SystemTime::now()) {
            Ok(now) => now,
            Err(error) => panic!("the system clock is out of range: {error}"),
        }
    }

    /// Reads RFC 3339 text, such as `2018-04-05T17:31:00Z`.
    ///
    /// # Errors
    ///
    /// [`EventError::InvalidTime`] for anything else.
    pub fn parse(text: &str) -> Result<Self, EventError> {
        Self::parse_named("time", text)
    }

    pub(crate) fn parse_named(name: &str, text: &str) -> Result<Self, EventError> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Timestamp)
            .map_err(|_| EventError::InvalidTime { name: name.into() })
    }

    /// The instant, as a [`SystemTime`] (the offset is dropped); `None` where the platform's
    /// `SystemTime` cannot hold it (Windows' starts in 1601).
    pub fn to_system_time(&self) -> Option<SystemTime> {
        let nanos = self.0.unix_timestamp_nanos();
        let magnitude = Duration::from_nanos(u64::try_from(nanos.unsigned_abs()).ok()?);
        if nanos >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(magnitude)
        } else {
            SystemTime::UNIX_EPOCH.checked_sub(magnitude)
        }
    }

    /// Whole seconds since the Unix epoch (negative before it).
    pub fn unix_seconds(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The nanoseconds past the whole second.
    pub fn subsec_nanos(&self) -> u32 {
        self.0.nanosecond()
    }

    /// The UTC offset it was written with, in seconds east of UTC.
    pub fn offset_seconds(&self) -> i32 {
        self.0.offset().whole_seconds()
    }

    /// `at`, where RFC 3339 can write it (the years 0000 to 9999).
    fn checked(at: OffsetDateTime) -> Result<Self, EventError> {
        if (0..=9999).contains(&at.year()) {
            Ok(Timestamp(at))
        } else {
            Err(out_of_range())
        }
    }

    /// The RFC 3339 text.
    pub(crate) fn format(&self) -> Result<String, EventError> {
        self.0
            .format(&Rfc3339)
            .map_err(|_| EventError::InvalidAttribute {
                name: "time".into(),
                reason: "cannot be written in RFC 3339 (the year must lie in 0000..=9999)",
            })
    }
}

/// The error for a point in time RFC 3339 cannot write.
fn out_of_range() -> EventError {
    EventError::InvalidAttribute {
        name: "time".into(),
        reason: "lies outside the years 0000 to 9999",
    }
}

impl TryFrom<SystemTime> for Timestamp {
    type Error = EventError;

    /// The instant, in UTC.
    fn try_from(at: SystemTime) -> Result<Self, EventError> {
        let utc = match at.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(after) => time::Duration::try_from(after)
                .ok()
                .and_then(|after| OffsetDateTime::UNIX_EPOCH.checked_add(after)),
            Err(before) => time::Duration::try_from(before.duration())
                .ok()
                .and_then(|before| OffsetDateTime::UNIX_EPOCH.checked_sub(before)),
        }
        .ok_or_else(out_of_range)?;
        Self::checked(utc)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339, with the offset it was written with.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every `Timestamp` lies in 0000..=9999, which RFC 3339 can write.
        f.write_str(&self.format().map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

#[cfg(feature = "time")]
#[cfg_attr(docsrs, doc(cfg(feature = "time")))]
impl TryFrom<OffsetDateTime> for Timestamp {
    type Error = EventError;

    /// The same point in time and offset; years outside 0000 to 9999 are refused.
    fn try_from(at: OffsetDateTime) -> Result<Self, EventError> {
        Self::checked(at)
    }
}

#[cfg(feature = "time")]
#[cfg_attr(docsrs, doc(cfg(feature = "time")))]
impl From<Timestamp> for OffsetDateTime {
    fn from(at: Timestamp) -> Self {
        at.0
    }
}

#[cfg(feature = "chrono")]
#[cfg_attr(docsrs, doc(cfg(feature = "chrono")))]
impl<Tz: chrono::TimeZone> TryFrom<chrono::DateTime<Tz>> for Timestamp {
    type Error = EventError;

    /// The same point in time, with the offset it has.
    fn try_from(at: chrono::DateTime<Tz>) -> Result<Self, EventError> {
        use chrono::Offset;
        let invalid = || EventError::InvalidAttribute {
            name: "time".into(),
            reason: "lies outside the years 0000 to 9999",
        };
        let offset = time::UtcOffset::from_whole_seconds(at.offset().fix().local_minus_utc())
            .map_err(|_| invalid())?;
        let nanos =
            i128::from(at.timestamp()) * 1_000_000_000 + i128::from(at.timestamp_subsec_nanos());
        let utc = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| invalid())?;
        let at = utc.to_offset(offset);
        if (0..=9999).contains(&at.year()) {
            Ok(Timestamp(at))
        } else {
            Err(invalid())
        }
    }
}

#[cfg(feature = "chrono")]
#[cfg_attr(docsrs, doc(cfg(feature = "chrono")))]
impl From<Timestamp> for chrono::DateTime<chrono::FixedOffset> {
    fn from(at: Timestamp) -> Self {
        let utc = chrono::DateTime::from_timestamp(at.0.unix_timestamp(), at.0.nanosecond())
            .unwrap_or_default();
        use chrono::Offset;
        let offset =
            chrono::FixedOffset::east_opt(at.offset_seconds()).unwrap_or_else(|| chrono::Utc.fix());
        utc.with_timezone(&offset)
    }
}

#[cfg(feature = "jiff")]
#[cfg_attr(docsrs, doc(cfg(feature = "jiff")))]
impl TryFrom<jiff::Timestamp> for Timestamp {
    type Error = EventError;

    /// The same instant, in UTC.
    fn try_from(at: jiff::Timestamp) -> Result<Self, EventError> {
        let invalid = || EventError::InvalidAttribute {
            name: "time".into(),
            reason: "lies outside the years 0000 to 9999",
        };
        let at =
            OffsetDateTime::from_unix_timestamp_nanos(at.as_nanosecond()).map_err(|_| invalid())?;
        if (0..=9999).contains(&at.year()) {
            Ok(Timestamp(at))
        } else {
            Err(invalid())
        }
    }
}

#[cfg(feature = "jiff")]
#[cfg_attr(docsrs, doc(cfg(feature = "jiff")))]
impl From<Timestamp> for jiff::Timestamp {
    fn from(at: Timestamp) -> Self {
        jiff::Timestamp::from_nanosecond(at.0.unix_timestamp_nanos()).unwrap_or_default()
    }
}
