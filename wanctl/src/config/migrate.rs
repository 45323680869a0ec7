//! Upgrading older configuration documents: one registered step per schema version.
//!
//! A step rewrites the parsed YAML mapping in memory; the file is never written. The loader reports what it
//! did so the operator can update the file, and refuses versions that no chain of steps reaches, saying how.

use serde_yaml_ng::{Mapping, Value};

/// One upgrade step, from `from` to `from + 1`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version this step reads.
    pub from: u32,
    /// What changed, in words an operator can apply by hand ("renamed `wans[].iface` to `interface`").
    pub summary: &'static str,
    /// Rewrites the document in place; an error names the offending key.
    pub apply: fn(&mut Mapping) -> Result<(), String>,
}

/// The chain of steps that takes `version` to `current`, or the first missing version.
pub fn chain(migrations: &[Migration], version: u32, current: u32) -> Result<Vec<&Migration>, u32> {
    (version..current)
        .map(|step| migrations.iter().find(|m| m.from == step).ok_or(step))
        .collect()
}

/// Renames `old` to `new` in `map`; refuses when both are present, because either choice could be wrong.
pub fn rename_key(map: &mut Mapping, old: &str, new: &str, context: &str) -> Result<(), String> {
    let Some(value) = map.remove(old) else {
        return Ok(());
    };
    if map.contains_key(new) {
        return Err(format!(
            "{context}: both `{old}` (old name) and `{new}` are set; keep only `{new}`"
        ));
    }
    map.insert(Value::from(new), value);
    Ok(())
}

/// Moves top-level `old` into section `section` as `new`, creating the section if needed.
pub fn move_into_section(
    map: &mut Mapping,
    old: &str,
    section: &str,
    new: &str,
) -> Result<(), String> {
    let Some(value) = map.remove(old) else {
        return Ok(());
    };
    let target = map
        .entry(Value::from(section))
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    let Value::Mapping(target) = target else {
        return Err(format!("`{section}` must be a mapping"));
    };
    if target.contains_key(new) {
        return Err(format!(
            "both `{old}` (old place) and `{section}.{new}` are set; keep only `{section}.{new}`"
        ));
    }
    target.insert(Value::from(new), value);
    Ok(())
}
