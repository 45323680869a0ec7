//! Values with units, as operators write them: bandwidths ("95Mbit", "950M") and durations ("50ms", "2s").
//!
//! Bandwidths are bits per second with SI prefixes, as `tc` and RouterOS read them. Byte-based suffixes
//! ("Mbps", "MB") are refused: `tc` reads "Mbps" as megabytes per second while people usually mean megabits,
//! and a silent factor of eight is the worst kind of shaping bug.

use std::{fmt, str::FromStr, time::Duration};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Why a value with a unit could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("empty value")]
    Empty,
    #[error("`{0}` is not a number followed by a unit")]
    NotANumber(String),
    #[error("`{value}`: unknown unit `{unit}` (use {expected})")]
    UnknownUnit {
        value: String,
        unit: String,
        expected: &'static str,
    },
    #[error(
        "`{0}` is ambiguous: `tc` reads \"bps\" as bytes per second; write bits, e.g. \"95Mbit\""
    )]
    AmbiguousBytes(String),
    #[error("`{0}` is negative, not finite, or too large")]
    OutOfRange(String),
    #[error("`{0}` needs a unit, e.g. \"50ms\" or \"2s\"")]
    MissingUnit(String),
}

const BANDWIDTH_UNITS: &str = "bit, kbit, Mbit, Gbit, or k, M, G";
const DURATION_UNITS: &str = "us, ms, s, m, h";

/// A rate in bits per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bandwidth(u64);

impl Bandwidth {
    /// A rate of `bps` bits per second.
    pub const fn from_bps(bps: u64) -> Self {
        Self(bps)
    }

    /// A rate of `mbit` megabits (10^6 bits) per second.
    pub const fn from_mbit(mbit: u64) -> Self {
        Self(mbit * 1_000_000)
    }

    /// Bits per second.
    pub const fn bps(self) -> u64 {
        self.0
    }

    /// Megabits per second, for display and metrics.
    pub fn mbit(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl fmt::Display for Bandwidth {
    /// Prints the shortest exact form: "95Mbit", "1500kbit", "1Gbit", "123bit".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bps = self.0;
        for (factor, unit) in [
            (1_000_000_000, "Gbit"),
            (1_000_000, "Mbit"),
            (1_000, "kbit"),
        ] {
            if bps >= factor && bps.is_multiple_of(factor) {
                return write!(f, "{}{unit}", bps / factor);
            }
        }
        write!(f, "{bps}bit")
    }
}

impl FromStr for Bandwidth {
    type Err = UnitError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (number, unit) = split_number(input)?;
        let lower = unit.to_ascii_lowercase();
        if lower.ends_with("bps") || lower.ends_with('b') && !lower.ends_with("bit") {
            return Err(UnitError::AmbiguousBytes(input.trim().to_string()));
        }
        let factor: f64 = match lower.trim_end_matches("bit") {
            "" => 1.0,
            "k" => 1e3,
            "m" => 1e6,
            "g" => 1e9,
            _ => {
                return Err(UnitError::UnknownUnit {
                    value: input.trim().to_string(),
                    unit: unit.to_string(),
                    expected: BANDWIDTH_UNITS,
                });
            }
        };
        let bps = number * factor;
        if !bps.is_finite() || bps < 0.0 || bps > u64::MAX as f64 / 2.0 {
            return Err(UnitError::OutOfRange(input.trim().to_string()));
        }
        Ok(Self(bps.round() as u64))
    }
}

/// A duration written with a unit ("50ms", "2.5s", "5m").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DurationSpec(Duration);

impl DurationSpec {
    /// Wraps a [`Duration`].
    pub const fn new(duration: Duration) -> Self {
        Self(duration)
    }

    /// Milliseconds, for building defaults.
    pub const fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }

    /// Seconds, for building defaults.
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// The duration.
    pub const fn get(self) -> Duration {
        self.0
    }
}

impl fmt::Display for DurationSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0.as_micros();
        for (factor, unit) in [
            (3_600_000_000, "h"),
            (60_000_000, "m"),
            (1_000_000, "s"),
            (1_000, "ms"),
        ] {
            if us >= factor && us.is_multiple_of(factor) {
                return write!(f, "{}{unit}", us / factor);
            }
        }
        write!(f, "{us}us")
    }
}

impl FromStr for DurationSpec {
    type Err = UnitError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (number, unit) = split_number(input)?;
        let seconds_per_unit = match unit {
            "" => return Err(UnitError::MissingUnit(input.trim().to_string())),
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => {
                return Err(UnitError::UnknownUnit {
                    value: input.trim().to_string(),
                    unit: unit.to_string(),
                    expected: DURATION_UNITS,
                });
            }
        };
        let seconds = number * seconds_per_unit;
        Duration::try_from_secs_f64(seconds)
            .map(Self)
            .map_err(|_| UnitError::OutOfRange(input.trim().to_string()))
    }
}

/// Splits "95.5 Mbit" into (95.5, "Mbit").
fn split_number(input: &str) -> Result<(f64, &str), UnitError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(UnitError::Empty);
    }
    let end = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(trimmed.len());
    let number: f64 = trimmed[..end]
        .parse()
        .map_err(|_| UnitError::NotANumber(trimmed.to_string()))?;
    if !number.is_finite() || number < 0.0 {
        return Err(UnitError::OutOfRange(trimmed.to_string()));
    }
    Ok((number, trimmed[end..].trim()))
}

macro_rules! serde_via_str {
    ($type:ty, $expecting:literal) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl de::Visitor<'_> for Visitor {
                    type Value = $type;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$type, E> {
                        v.parse().map_err(E::custom)
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$type, E> {
                        v.to_string().parse().map_err(E::custom)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$type, E> {
                        v.to_string().parse().map_err(E::custom)
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$type, E> {
                        v.to_string().parse().map_err(E::custom)
                    }
                }
                deserializer.deserialize_any(Visitor)
            }
        }
    };
}

serde_via_str!(Bandwidth, "a bandwidth such as \"95Mbit\" or \"950M\"");
serde_via_str!(DurationSpec, "a duration such as \"50ms\" or \"2s\"");

macro_rules! schema_as_str {
    ($type:ty, $json_type:tt, $name:literal, $format:literal, $description:literal, $pattern:literal) => {
        impl schemars::JsonSchema for $type {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": $json_type,
                    "format": $format,
                    "description": $description,
                    "pattern": $pattern
                })
            }
        }
    };
}

// Plain numbers are bits per second; durations always need a unit. `format` is an annotation (validators
// ignore formats they do not know); the configuration reference reads it to name the unit.
schema_as_str!(
    Bandwidth,
    ["string", "integer"],
    "Bandwidth",
    "bandwidth",
    "Bits per second with an SI prefix: \"95Mbit\", \"950M\", \"1.5Gbit\"",
    "^\\s*[0-9.]+\\s*([kKmMgG]?(bit)?)\\s*$"
);
schema_as_str!(
    DurationSpec,
    "string",
    "Duration",
    "duration",
    "A duration with a unit: \"50ms\", \"2s\", \"5m\"",
    "^\\s*[0-9.]+\\s*(us|µs|ms|s|m|min|h)\\s*$"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidth_accepts_the_usual_spellings() {
        let cases = [
            ("95Mbit", 95_000_000),
            ("950M", 950_000_000),
            ("95mbit", 95_000_000),
            ("1.5Gbit", 1_500_000_000),
            ("500 kbit", 500_000),
            ("20K", 20_000),
            ("123", 123),
            ("123bit", 123),
        ];
        for (text, bps) in cases {
            assert_eq!(
                text.parse::<Bandwidth>(),
                Ok(Bandwidth::from_bps(bps)),
                "{text}"
            );
        }
    }

    #[test]
    fn bandwidth_refuses_bytes_and_nonsense() {
        assert!(matches!(
            "95Mbps".parse::<Bandwidth>(),
            Err(UnitError::AmbiguousBytes(_))
        ));
        assert!(matches!(
            "95MB".parse::<Bandwidth>(),
            Err(UnitError::AmbiguousBytes(_))
        ));
        assert!(matches!(
            "95Tbit".parse::<Bandwidth>(),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            "-5M".parse::<Bandwidth>(),
            Err(UnitError::OutOfRange(_))
        ));
        assert!(matches!(
            "fast".parse::<Bandwidth>(),
            Err(UnitError::NotANumber(_))
        ));
        assert!(matches!("".parse::<Bandwidth>(), Err(UnitError::Empty)));
    }

    #[test]
    fn bandwidth_display_round_trips() {
        for bps in [95_000_000, 1_000_000_000, 1_500_000, 123, 0] {
            let bw = Bandwidth::from_bps(bps);
            assert_eq!(bw.to_string().parse::<Bandwidth>(), Ok(bw));
        }
        assert_eq!(Bandwidth::from_mbit(95).to_string(), "95Mbit");
    }

    #[test]
    fn duration_needs_a_unit_and_parses_fractions() {
        assert_eq!(
            "50ms".parse::<DurationSpec>(),
            Ok(DurationSpec::from_millis(50))
        );
        assert_eq!(
            "2.5s".parse::<DurationSpec>(),
            Ok(DurationSpec::from_millis(2500))
        );
        assert_eq!(
            "5m".parse::<DurationSpec>(),
            Ok(DurationSpec::from_secs(300))
        );
        assert_eq!(
            "100us".parse::<DurationSpec>().map(DurationSpec::get),
            Ok(Duration::from_micros(100))
        );
        assert!(matches!(
            "50".parse::<DurationSpec>(),
            Err(UnitError::MissingUnit(_))
        ));
        assert!(matches!(
            "5 fortnights".parse::<DurationSpec>(),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert_eq!(DurationSpec::from_millis(1500).to_string(), "1500ms");
        assert_eq!(DurationSpec::from_secs(120).to_string(), "2m");
    }

    #[test]
    fn serde_reads_strings_and_plain_numbers() {
        let bw: Bandwidth = serde_json::from_str("\"18Mbit\"").unwrap();
        assert_eq!(bw.bps(), 18_000_000);
        let bw: Bandwidth = serde_json::from_str("1000000").unwrap();
        assert_eq!(bw.bps(), 1_000_000);
        let err = serde_json::from_str::<DurationSpec>("50")
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs a unit"), "{err}");
        assert_eq!(
            serde_json::to_string(&Bandwidth::from_mbit(40)).unwrap(),
            "\"40Mbit\""
        );
    }
}
