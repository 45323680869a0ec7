//! RouterOS REST JSON: every value is a string (`"max-limit":"95000000"`, `"disabled":"false"`), ids are
//! `*N`, simple queues pair `upload/download`, and errors are `{"error":N,"message":..,"detail":..}`.

use serde_json::{Map, Value};

use crate::{config::Bandwidth, signal::Direction};

/// One object of a RouterOS menu, as returned by GET or PATCH.
pub type Record = Map<String, Value>;

/// A record's string field.
pub fn field<'a>(record: &'a Record, key: &str) -> Option<&'a str> {
    record.get(key).and_then(Value::as_str)
}

/// `max-limit` of a queue: one rate (queue tree) or `upload/download` (simple queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxLimit {
    Single(Bandwidth),
    Pair {
        upload: Bandwidth,
        download: Bandwidth,
    },
}

impl MaxLimit {
    /// Parses `"95000000"` or `"20000000/100000000"` (also the console's `95M` spellings).
    pub fn parse(text: &str) -> Option<Self> {
        match text.split_once('/') {
            Some((up, down)) => Some(MaxLimit::Pair {
                upload: parse_rate(up)?,
                download: parse_rate(down)?,
            }),
            None => parse_rate(text).map(MaxLimit::Single),
        }
    }

    /// The string RouterOS expects: plain bits per second.
    pub fn to_wire(self) -> String {
        match self {
            MaxLimit::Single(rate) => rate.bps().to_string(),
            MaxLimit::Pair { upload, download } => format!("{}/{}", upload.bps(), download.bps()),
        }
    }

    /// The rate that limits `direction` (a tree queue has one rate for its direction).
    pub fn get(self, direction: Direction) -> Bandwidth {
        match (self, direction) {
            (MaxLimit::Single(rate), _) => rate,
            (MaxLimit::Pair { download, .. }, Direction::Download) => download,
            (MaxLimit::Pair { upload, .. }, Direction::Upload) => upload,
        }
    }

    /// `self` with `direction` set to `rate`.
    pub fn with(self, direction: Direction, rate: Bandwidth) -> Self {
        match (self, direction) {
            (MaxLimit::Single(_), _) => MaxLimit::Single(rate),
            (MaxLimit::Pair { upload, .. }, Direction::Download) => MaxLimit::Pair {
                upload,
                download: rate,
            },
            (MaxLimit::Pair { download, .. }, Direction::Upload) => MaxLimit::Pair {
                upload: rate,
                download,
            },
        }
    }
}

fn parse_rate(text: &str) -> Option<Bandwidth> {
    let text = text.trim();
    // "0" means unlimited on RouterOS; it is still a valid value to read.
    text.parse::<u64>()
        .ok()
        .map(Bandwidth::from_bps)
        .or_else(|| text.parse::<Bandwidth>().ok())
}

/// Cumulative counters of one queue (one half of a simple queue), as the router reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawCounters {
    pub bytes: u64,
    pub packets: u64,
    pub dropped: u64,
    pub queued_bytes: u64,
    pub queued_packets: u64,
}

/// Counters of a queue record: one set (tree) or one per direction (simple queue pairs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counters {
    Single(RawCounters),
    Pair {
        upload: RawCounters,
        download: RawCounters,
    },
}

impl Counters {
    /// Reads `bytes`, `packets`, `dropped`, `queued-bytes`, `queued-packets`; `None` if any is missing.
    pub fn parse(record: &Record) -> Option<Self> {
        let get = |key: &str| field(record, key);
        let keys = [
            "bytes",
            "packets",
            "dropped",
            "queued-bytes",
            "queued-packets",
        ];
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(get(key)?);
        }
        if values[0].contains('/') {
            let mut up = [0u64; 5];
            let mut down = [0u64; 5];
            for (i, v) in values.iter().enumerate() {
                let (u, d) = v.split_once('/')?;
                up[i] = u.trim().parse().ok()?;
                down[i] = d.trim().parse().ok()?;
            }
            Some(Counters::Pair {
                upload: RawCounters::from_array(up),
                download: RawCounters::from_array(down),
            })
        } else {
            let mut all = [0u64; 5];
            for (i, v) in values.iter().enumerate() {
                all[i] = v.trim().parse().ok()?;
            }
            Some(Counters::Single(RawCounters::from_array(all)))
        }
    }

    /// The counters of `direction` (a tree queue has one set for its direction).
    pub fn get(self, direction: Direction) -> RawCounters {
        match (self, direction) {
            (Counters::Single(c), _) => c,
            (Counters::Pair { download, .. }, Direction::Download) => download,
            (Counters::Pair { upload, .. }, Direction::Upload) => upload,
        }
    }
}

impl RawCounters {
    fn from_array(v: [u64; 5]) -> Self {
        Self {
            bytes: v[0],
            packets: v[1],
            dropped: v[2],
            queued_bytes: v[3],
            queued_packets: v[4],
        }
    }
}

/// A RouterOS error body; every field optional because proxies and old versions may send less.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorBody {
    pub error: Option<u16>,
    pub message: Option<String>,
    pub detail: Option<String>,
}

impl ErrorBody {
    /// Parses `{"error":404,"message":"Not Found","detail":".."}`; tolerates `error` as a string.
    pub fn parse(body: &[u8]) -> Self {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        let error = match map.get("error") {
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        Self {
            error,
            message: field(&map, "message").map(str::to_string),
            detail: field(&map, "detail").map(str::to_string),
        }
    }
}

/// RouterOS booleans: `"true"`/`"false"`, also `"yes"`/`"no"`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "yes" => Some(true),
        "false" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Record {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn max_limit_round_trips_both_forms() {
        let single = MaxLimit::parse("95000000").unwrap();
        assert_eq!(single, MaxLimit::Single(Bandwidth::from_mbit(95)));
        assert_eq!(single.to_wire(), "95000000");
        let pair = MaxLimit::parse("20000000/100000000").unwrap();
        assert_eq!(pair.get(Direction::Upload), Bandwidth::from_mbit(20));
        assert_eq!(pair.get(Direction::Download), Bandwidth::from_mbit(100));
        let changed = pair.with(Direction::Download, Bandwidth::from_mbit(90));
        assert_eq!(changed.to_wire(), "20000000/90000000");
        assert_eq!(
            MaxLimit::parse("18M/90M").unwrap().to_wire(),
            "18000000/90000000"
        );
        assert_eq!(MaxLimit::parse("fast"), None);
    }

    #[test]
    fn counters_parse_tree_and_simple_records() {
        let tree = record(
            r#"{".id":"*A","bytes":"1000","packets":"10","dropped":"1","queued-bytes":"0","queued-packets":"0"}"#,
        );
        let c = Counters::parse(&tree).unwrap().get(Direction::Download);
        assert_eq!((c.bytes, c.packets, c.dropped), (1000, 10, 1));
        let simple = record(
            r#"{"bytes":"5/7","packets":"1/2","dropped":"0/3","queued-bytes":"0/4","queued-packets":"0/5"}"#,
        );
        let c = Counters::parse(&simple).unwrap();
        assert_eq!(c.get(Direction::Upload).bytes, 5);
        assert_eq!(c.get(Direction::Download).queued_packets, 5);
        assert!(Counters::parse(&record(r#"{"bytes":"x"}"#)).is_none());
    }

    #[test]
    fn error_body_reads_number_and_optional_detail() {
        let b = ErrorBody::parse(
            br#"{"detail":"no such command or directory (x)","error":400,"message":"Bad Request"}"#,
        );
        assert_eq!(b.error, Some(400));
        assert_eq!(b.message.as_deref(), Some("Bad Request"));
        assert_eq!(
            b.detail.as_deref(),
            Some("no such command or directory (x)")
        );
        let b = ErrorBody::parse(br#"{"error":404,"message":"Not Found"}"#);
        assert_eq!((b.error, b.detail), (Some(404), None));
        assert_eq!(ErrorBody::parse(b"<html>"), ErrorBody::default());
    }
}
