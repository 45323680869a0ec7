//! Request parsing: menu paths, `?prop=value` filters with `.proplist`, and PATCH bodies with RouterOS
//! value normalization (`95M` → `95000000`, `yes` → `true`).

use serde_json::Value;

use super::state::{MANGLE, QUEUE_SIMPLE, QUEUE_TREE, Record, bad_request};

pub(super) fn split_menu(path: &str) -> Option<(&'static str, Option<&str>)> {
    for menu in [QUEUE_TREE, QUEUE_SIMPLE, MANGLE] {
        if path == menu {
            return Some((menu, None));
        }
        if let Some(rest) = path.strip_prefix(menu).and_then(|r| r.strip_prefix('/'))
            && !rest.is_empty()
            && !rest.contains('/')
        {
            return Some((menu, Some(rest)));
        }
    }
    None
}

pub(super) fn filter(records: Vec<Record>, query: &str) -> Vec<Value> {
    let pairs: Vec<(String, String)> = url_pairs(query);
    let proplist: Option<Vec<String>> = pairs
        .iter()
        .find(|(k, _)| k == ".proplist")
        .map(|(_, v)| v.split(',').map(str::to_string).collect());
    records
        .into_iter()
        .filter(|r| {
            pairs
                .iter()
                .filter(|(k, _)| !k.starts_with('.'))
                .all(|(k, v)| r.get(k).and_then(Value::as_str) == Some(v.as_str()))
        })
        .map(|r| match &proplist {
            Some(props) => {
                Value::Object(r.into_iter().filter(|(k, _)| props.contains(k)).collect())
            }
            None => Value::Object(r),
        })
        .collect()
}

/// Decodes `a=b&c=d` with percent-escapes and `+`.
pub fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn parse_patch(menu: &str, body: &[u8]) -> Result<Vec<(String, String)>, (u16, Value)> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err(bad_request("JSON object expected"));
    };
    let writable: &[&str] = match menu {
        QUEUE_TREE => &[
            "name",
            "max-limit",
            "limit-at",
            "parent",
            "packet-mark",
            "queue",
            "priority",
            "disabled",
            "comment",
        ],
        QUEUE_SIMPLE => &[
            "name",
            "max-limit",
            "limit-at",
            "target",
            "queue",
            "priority",
            "disabled",
            "comment",
        ],
        _ => &[
            "disabled",
            "comment",
            "chain",
            "action",
            "new-routing-mark",
            "passthrough",
        ],
    };
    let mut changes = Vec::new();
    for (key, value) in map {
        if !writable.contains(&key.as_str()) {
            return Err(bad_request(&format!("unknown parameter {key}")));
        }
        // RouterOS replies with strings; this emulator insists the client sends strings too.
        let Value::String(text) = value else {
            return Err(bad_request(&format!("value of {key} must be a string")));
        };
        let normalized = match key.as_str() {
            "max-limit" | "limit-at" => normalize_limit(menu, &text),
            "disabled" => match text.as_str() {
                "true" | "yes" => Some("true".to_string()),
                "false" | "no" => Some("false".to_string()),
                _ => None,
            },
            _ => Some(text),
        };
        let Some(normalized) = normalized else {
            return Err(bad_request(&format!("invalid value for argument {key}")));
        };
        changes.push((key, normalized));
    }
    Ok(changes)
}

fn normalize_limit(menu: &str, text: &str) -> Option<String> {
    if menu == QUEUE_SIMPLE {
        let (up, down) = text.split_once('/')?;
        Some(format!("{}/{}", rate_bps(up)?, rate_bps(down)?))
    } else {
        rate_bps(text).map(|r| r.to_string())
    }
}

fn rate_bps(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, factor) = match text.chars().last()? {
        'k' => (&text[..text.len() - 1], 1_000),
        'M' => (&text[..text.len() - 1], 1_000_000),
        'G' => (&text[..text.len() - 1], 1_000_000_000),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(factor)
}
