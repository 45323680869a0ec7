//! The emulated router's configuration tables and the REST semantics MikroTik documents: string values,
//! `*N` ids, `?prop=value` filters, `.proplist`, PATCH returning the updated object, and
//! `{"error":N,"message":..,"detail":..}` bodies.

use std::{collections::BTreeMap, time::Duration};

use serde_json::{Map, Value, json};

use super::rest::{filter, parse_patch, split_menu};

/// One object of a menu; every value is a string.
pub type Record = Map<String, Value>;

pub const QUEUE_TREE: &str = "queue/tree";
pub const QUEUE_SIMPLE: &str = "queue/simple";
pub const MANGLE: &str = "ip/firewall/mangle";

/// A request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub method: String,
    /// Path after `/rest/`, e.g. `queue/tree/*1`.
    pub path: String,
    pub query: String,
    pub body: String,
    pub status: u16,
}

/// How the router fails while it is "down".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Connections are closed at once (a rebooting router, a closed port).
    Refuse,
    /// Connections are accepted and never answered (a dead path).
    BlackHole,
}

/// Everything the router knows, plus the test knobs.
#[derive(Debug)]
pub struct State {
    pub user: String,
    pub password: String,
    pub tables: BTreeMap<&'static str, Vec<Record>>,
    pub next_id: u32,
    pub log: Vec<Logged>,
    pub latency: Duration,
    /// Statuses to answer the next requests with (after auth), one per request.
    pub fail_next: Vec<u16>,
    pub outage: Option<Outage>,
}

pub(super) fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

impl State {
    pub fn new(user: &str, password: &str) -> Self {
        let tables = [QUEUE_TREE, QUEUE_SIMPLE, MANGLE]
            .into_iter()
            .map(|m| (m, Vec::new()))
            .collect();
        Self {
            user: user.into(),
            password: password.into(),
            tables,
            next_id: 1,
            log: Vec::new(),
            latency: Duration::ZERO,
            fail_next: Vec::new(),
            outage: None,
        }
    }

    fn take_id(&mut self) -> String {
        let id = format!("*{:X}", self.next_id);
        self.next_id += 1;
        id
    }

    pub fn add(&mut self, menu: &'static str, mut record: Record) -> String {
        let id = self.take_id();
        record.insert(".id".into(), s(&id));
        self.tables.entry(menu).or_default().push(record);
        id
    }

    /// New ids for every record, as after a reboot or configuration reload; old ids stop existing.
    pub fn renumber(&mut self) {
        let mut next = self.next_id + 100;
        for records in self.tables.values_mut() {
            for r in records.iter_mut() {
                r.insert(".id".into(), s(&format!("*{next:X}")));
                next += 1;
            }
        }
        self.next_id = next;
    }

    /// Adds to a counter field (`"N"` or, for one half of a pair, `"U/D"` with `half` 0 = upload, 1 = download).
    pub fn bump(record: &mut Record, key: &str, half: Option<usize>, by: u64) {
        let current = record
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("0")
            .to_string();
        let new = match half {
            None => (current.parse::<u64>().unwrap_or(0) + by).to_string(),
            Some(i) => {
                let mut parts: Vec<u64> =
                    current.split('/').map(|p| p.parse().unwrap_or(0)).collect();
                parts.resize(2, 0);
                parts[i] += by;
                format!("{}/{}", parts[0], parts[1])
            }
        };
        record.insert(key.into(), s(&new));
    }

    /// Zeroes every counter (reboot).
    pub fn reset_counters(&mut self) {
        for records in self.tables.values_mut() {
            for r in records.iter_mut() {
                for key in [
                    "bytes",
                    "packets",
                    "dropped",
                    "queued-bytes",
                    "queued-packets",
                ] {
                    if let Some(v) = r.get(key).and_then(Value::as_str) {
                        let zero = if v.contains('/') { "0/0" } else { "0" };
                        r.insert(key.into(), s(zero));
                    }
                }
            }
        }
    }

    /// Answers one authenticated REST request: (status, JSON body).
    pub fn handle(&mut self, method: &str, path: &str, query: &str, body: &[u8]) -> (u16, Value) {
        if let Some(status) = (!self.fail_next.is_empty()).then(|| self.fail_next.remove(0)) {
            return (status, error_body(status, None));
        }
        let Some((menu, item)) = split_menu(path) else {
            let last = path.rsplit('/').next().unwrap_or(path);
            return bad_request(&format!("no such command or directory ({last})"));
        };
        match (method, item) {
            ("GET", None) => {
                let records = self.tables.get(menu).cloned().unwrap_or_default();
                (200, Value::Array(filter(records, query)))
            }
            ("GET", Some(item)) => match self.find(menu, item) {
                Ok(i) => (200, Value::Object(self.tables[menu][i].clone())),
                Err(e) => e,
            },
            ("PATCH", Some(item)) => {
                let i = match self.find(menu, item) {
                    Ok(i) => i,
                    Err(e) => return e,
                };
                let changes = match parse_patch(menu, body) {
                    Ok(c) => c,
                    Err(e) => return e,
                };
                let record = &mut self.tables.get_mut(menu).expect("menu exists")[i];
                for (k, v) in changes {
                    record.insert(k, s(&v));
                }
                (200, Value::Object(record.clone()))
            }
            ("PATCH", None) => bad_request("no such command"),
            _ => bad_request("no such command"),
        }
    }

    fn find(&self, menu: &str, item: &str) -> Result<usize, (u16, Value)> {
        let records = &self.tables[menu];
        if item.starts_with('*') {
            return records
                .iter()
                .position(|r| r.get(".id").and_then(Value::as_str) == Some(item))
                .ok_or_else(|| (404, error_body(404, None)));
        }
        // Named tables accept a name in place of the id; others have no such prefix.
        if menu == MANGLE {
            return Err(bad_request("no such command prefix"));
        }
        records
            .iter()
            .position(|r| r.get("name").and_then(Value::as_str) == Some(item))
            .ok_or_else(|| bad_request(&format!("no such item ({item})")))
    }
}

/// `{"error":N,"message":..}` plus `detail` when given, as RouterOS sends them.
pub fn error_body(status: u16, detail: Option<&str>) -> Value {
    let message = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        406 => "Not Acceptable",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut body = json!({ "error": status, "message": message });
    if let Some(detail) = detail {
        body["detail"] = s(detail);
    }
    body
}

pub(super) fn bad_request(detail: &str) -> (u16, Value) {
    (400, error_body(400, Some(detail)))
}
