//! Timestamps: stored as milliseconds since the Unix epoch (portable across SQLite and
//! PostgreSQL), shown as RFC 3339 UTC with a `Z`.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

/// A point in time, to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis())
    }

    /// The first instant of today (UTC): where the dashboard's "today" begins.
    pub fn start_of_today() -> Self {
        start_of(Utc::now().date_naive())
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn to_rfc3339(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Parses a filter bound: a date (`2026-01-01`, meaning its first instant, UTC) or a full
    /// RFC 3339 timestamp.
    pub fn parse_bound(value: &str) -> Result<Self, String> {
        if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            return Ok(start_of(date));
        }
        DateTime::parse_from_rfc3339(value)
            .map(|t| Timestamp(t.timestamp_millis()))
            .map_err(|_| "must be a date (2026-01-01) or an RFC 3339 timestamp".to_string())
    }

    /// Seconds from `self` until `later`, rounded down.
    pub fn seconds_until(self, later: Timestamp) -> i64 {
        (later.0 - self.0) / 1000
    }
}

/// The first instant of `date`, UTC.
fn start_of(date: NaiveDate) -> Timestamp {
    let start = date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    Timestamp(start.timestamp_millis())
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

/// In the OpenAPI document: an RFC 3339 date-time string.
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{KnownFormat, ObjectBuilder, SchemaFormat, schema::Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339, UTC, to the millisecond"))
            .examples([serde_json::json!("2026-01-20T15:35:00.123Z")])
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_accept_dates_and_timestamps_and_nothing_else() {
        assert_eq!(
            Timestamp::parse_bound("1970-01-02"),
            Ok(Timestamp(86_400_000))
        );
        assert_eq!(
            Timestamp::parse_bound("1970-01-01T00:00:01Z"),
            Ok(Timestamp(1000))
        );
        assert_eq!(
            Timestamp::parse_bound("1970-01-01T01:00:00+01:00"),
            Ok(Timestamp(0))
        );
        for bad in ["yesterday", "2026-13-01", "2026-01-01 10:00", ""] {
            assert!(
                Timestamp::parse_bound(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn timestamps_print_as_utc_with_z() {
        assert_eq!(Timestamp(1500).to_rfc3339(), "1970-01-01T00:00:01.500Z");
    }
}
