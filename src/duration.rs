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
        let invalid = || InvalidDuration {
            text: text.to_owned(),
        };
        if text.starts_with(['-', '+']) || text.is_empty() {
            return Err(invalid());
        }
        let parsed: kube::core::Duration = text.parse().map_err(|_| invalid())?;
        Ok(Self {
            text: text.to_owned(),
            value: parsed.into(),
        })
    }
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
        for text in ["", "-1h", "+1h", "72", "3d", "h"] {
            let err = text.parse::<GoDuration>().unwrap_err();
            assert!(err.to_string().contains(&format!("{text:?}")), "{text}");
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
