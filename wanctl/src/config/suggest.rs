//! Did-you-mean for unknown keys and enum values, from the names serde reports as expected.
//!
//! serde phrases these errors in a fixed form (`unknown field `x`, expected one of `a`, `b``); reading that
//! form back keeps `deny_unknown_fields` on every section instead of a hand-kept list of known keys that drifts.

/// An unknown key or enum value, as parsed from serde's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// "field" or "variant".
    pub what: &'static str,
    /// The name as written.
    pub name: String,
    /// The names serde expected.
    pub expected: Vec<String>,
}

/// Reads serde's "unknown field"/"unknown variant" message; `None` for any other message.
pub fn parse_unknown(message: &str) -> Option<Unknown> {
    let (what, rest) = if let Some(rest) = message.strip_prefix("unknown field `") {
        ("field", rest)
    } else {
        ("variant", message.strip_prefix("unknown variant `")?)
    };
    let (name, tail) = rest.split_once('`')?;
    let expected = tail
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some(Unknown {
        what,
        name: name.to_string(),
        expected,
    })
}

/// The expected name closest to `name`, if it is close enough to be a typo: at most a third of the longer
/// name's characters differ (at least one edit allowed), or one is a case-insensitive match of the other.
pub fn closest<'a>(name: &str, expected: &'a [String]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    expected
        .iter()
        .map(|candidate| {
            let distance = strsim::damerau_levenshtein(&lower, &candidate.to_lowercase());
            (distance, candidate.as_str())
        })
        .filter(|(distance, candidate)| {
            let longest = name.chars().count().max(candidate.chars().count());
            *distance <= (longest / 3).max(1)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn reads_all_of_serdes_phrasings() {
        let many =
            parse_unknown("unknown field `intrface`, expected one of `name`, `interface`, `cake`")
                .unwrap();
        assert_eq!(many.what, "field");
        assert_eq!(many.name, "intrface");
        assert_eq!(many.expected, names(&["name", "interface", "cake"]));
        let two = parse_unknown("unknown field `x`, expected `a` or `b`").unwrap();
        assert_eq!(two.expected, names(&["a", "b"]));
        let none = parse_unknown("unknown field `x`, there are no fields").unwrap();
        assert!(none.expected.is_empty());
        let variant = parse_unknown("unknown variant `jsn`, expected `human` or `json`").unwrap();
        assert_eq!((variant.what, variant.name.as_str()), ("variant", "jsn"));
        assert_eq!(parse_unknown("invalid type: string, expected u32"), None);
    }

    #[test]
    fn suggests_only_plausible_typos() {
        let expected = names(&["name", "interface", "http_listen", "state_dir"]);
        assert_eq!(closest("intreface", &expected), Some("interface"));
        assert_eq!(closest("Interface", &expected), Some("interface"));
        assert_eq!(closest("http_lsiten", &expected), Some("http_listen"));
        assert_eq!(closest("nmae", &expected), Some("name"));
        assert_eq!(closest("bandwidth", &expected), None);
        assert_eq!(closest("x", &expected), None);
        assert_eq!(closest("name", &[]), None);
    }
}
