//! `spec.renewBefore`: a Go-style duration ("72h", "90m", "1h30m") with its own schema.

use std::{fmt, str::FromStr, time::Duration};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The pattern the API server checks, so a malformed value is refused at `kubectl apply`.
/// Go's own syntax, without sign: one or more `<number><unit>` pairs.
pub const GO_DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";

/// A non-negative duration written the way Go (and every Kubernetes user) writes it.
/// Keeps the text it was parsed from, so it prints back exactly as the user wrote it.
#[derive(Clone, PartialEq, Eq)]
pub struct GoDuration {
    text: String,
    value: Duration,
}

/// Why a duration was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid duration {text:?}: expected a Go duration such as \"72h\" or \"1h30m\"")]
pub struct InvalidDuration {
    text: String,
}

impl GoDuration {
    pub fn as_duration(&self) -> Duration {
        self.value
    }
}

impl FromStr for GoDuration {
    type Err = InvalidDuration;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let value = parse(text).ok_or_else(|| InvalidDuration {
            text: text.chars().take(64).collect(),
        })?;
        Ok(Self {
            text: text.to_owned(),
            value,
        })
    }
}

/// Go's duration syntax without a sign: `<number>[.<fraction>]<unit>`, repeated. Exact, in
/// nanoseconds, and checked: a value beyond `Duration`'s range is refused, never a panic.
fn parse(text: &str) -> Option<Duration> {
    const UNITS: [(&str, u128); 8] = [
        ("ns", 1),
        ("us", 1_000),
        ("\u{b5}s", 1_000),
        ("\u{3bc}s", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    let mut rest = text;
    let mut total: u128 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let (whole, after) = split_digits(rest);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => split_digits(after),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let (unit, after) = UNITS
            .iter()
            .find_map(|(name, nanos)| after.strip_prefix(name).map(|r| (*nanos, r)))?;
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut part = whole.checked_mul(unit)?;
        // The fraction, to the nanosecond: digits past the 18th cannot add a whole nanosecond
        // to any unit up to an hour.
        let mut scale = unit;
        for digit in fraction.chars().take(18) {
            scale /= 10;
            part = part.checked_add(u128::from(digit.to_digit(10)?) * scale)?;
        }
        total = total.checked_add(part)?;
        rest = after;
    }
    let seconds = u64::try_from(total / 1_000_000_000).ok()?;
    let nanos = u32::try_from(total % 1_000_000_000).ok()?;
    Some(Duration::new(seconds, nanos))
}

fn split_digits(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GoDuration({})", self.text)
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for GoDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "GoDuration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": GO_DURATION_PATTERN,
            "description": "A Go duration such as \"72h\" or \"1h30m\"."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_go_accepts_and_prints_it_back_unchanged() {
        for (text, seconds) in [
            ("72h", 259_200.0),
            ("1h30m", 5_400.0),
            ("90s", 90.0),
            ("1.5h", 5_400.0),
            ("500ms", 0.5),
            ("0s", 0.0),
        ] {
            let parsed: GoDuration = text.parse().unwrap();
            assert_eq!(parsed.as_duration().as_secs_f64(), seconds, "{text}");
            assert_eq!(parsed.to_string(), text);
            assert_eq!(serde_json::to_value(&parsed).unwrap(), text);
        }
    }

    #[test]
    fn refuses_negative_empty_and_unitless_values_naming_the_text() {
        for text in [
            "", "-1h", "+1h", "72", "3d", "h", "1h30", ".h", "1..5h", " 1h", "1h ",
        ] {
            let err = text.parse::<GoDuration>().unwrap_err();
            assert!(err.to_string().contains(&format!("{text:?}")), "{text}");
        }
    }

    #[test]
    fn values_beyond_range_are_refused_never_a_panic() {
        for text in [
            "99999999999999999999999h",
            "18446744073709551616s",
            "5124095576030432h",
            "340282366920938463463374607431768211456ns",
            "1.99999999999999999999999999999999999h",
        ] {
            let parsed = text.parse::<GoDuration>();
            if let Ok(parsed) = &parsed {
                assert!(parsed.as_duration() >= Duration::from_secs(3600), "{text}");
            }
        }
        assert!("99999999999999999999999h".parse::<GoDuration>().is_err());
        assert!("18446744073709551616s".parse::<GoDuration>().is_err());
        let longest = format!("{}s", u64::MAX);
        assert_eq!(
            longest.parse::<GoDuration>().unwrap().as_duration(),
            Duration::from_secs(u64::MAX)
        );
    }

    #[test]
    fn fractions_and_every_unit_are_exact() {
        for (text, nanos) in [
            ("1ns", 1u128),
            ("1us", 1_000),
            ("1\u{b5}s", 1_000),
            ("1.5ms", 1_500_000),
            ("0.000000001s", 1),
            ("1h1m1s1ms1us1ns", 3_661_001_001_001),
            (".5s", 500_000_000),
            ("5.s", 5_000_000_000),
        ] {
            let parsed: GoDuration = text.parse().unwrap();
            assert_eq!(parsed.as_duration().as_nanos(), nanos, "{text}");
        }
    }

    #[test]
    fn the_schema_pattern_agrees_with_the_parser_on_common_values() {
        let pattern = GO_DURATION_PATTERN;
        assert!(pattern.starts_with('^') && pattern.ends_with('$'));
        let schema =
            serde_json::to_value(GoDuration::json_schema(&mut SchemaGenerator::default())).unwrap();
        assert_eq!(schema["pattern"], pattern);
        assert_eq!(schema["type"], "string");
    }
}
