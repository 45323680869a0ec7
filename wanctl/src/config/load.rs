//! Reading a YAML document into a typed configuration: syntax and type errors carry the file, line, column
//! and field path; unknown keys get a did-you-mean; `schema_version` is checked and older documents migrated.

use std::path::Path;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

use super::{
    error::{ConfigError, ConfigErrorKind, Location},
    migrate::{self, Migration},
    suggest,
};

/// A configuration document type: its serde shape plus its schema version and upgrade steps.
pub trait Document: DeserializeOwned + JsonSchema {
    /// The `schema_version` this build reads natively.
    const SCHEMA_VERSION: u32;

    /// Steps that upgrade older documents to [`Self::SCHEMA_VERSION`].
    fn migrations() -> &'static [Migration] {
        &[]
    }
}

/// A parsed document and what the loader did on the way (migrations), for the log and `check-config`.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    /// The typed document.
    pub document: T,
    /// Things the operator should know, e.g. "migrated from version 0; update the file".
    pub notices: Vec<String>,
}

/// Reads and parses the YAML file at `path`.
///
/// # Errors
/// [`ConfigError`] naming the file, position and field when the file is unreadable, not YAML, not of type `T`,
/// or of a schema version this build cannot read.
pub fn load<T: Document>(path: &Path) -> Result<Loaded<T>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        ConfigError::document(path, ConfigErrorKind::Read(format!("cannot read: {error}")))
    })?;
    load_str(&text, path)
}

/// Parses YAML `text`; `source` names it in errors (a path or a label such as "<stdin>").
///
/// # Errors
/// As [`load`], without the read error.
pub fn load_str<T: Document>(text: &str, source: &Path) -> Result<Loaded<T>, ConfigError> {
    let value: Value =
        serde_yaml_ng::from_str(text).map_err(|error| syntax_error(source, &error))?;
    let version = schema_version::<T>(&value, source)?;
    if version == T::SCHEMA_VERSION {
        // Deserialize from the text, not the Value, so that type errors keep their line and column.
        let deserializer = serde_yaml_ng::Deserializer::from_str(text);
        let document = serde_path_to_error::deserialize(deserializer)
            .map_err(|error| typed_error(source, &error))?;
        return Ok(Loaded {
            document,
            notices: Vec::new(),
        });
    }
    migrate_and_parse(value, version, source)
}

fn migrate_and_parse<T: Document>(
    value: Value,
    version: u32,
    source: &Path,
) -> Result<Loaded<T>, ConfigError> {
    let current = T::SCHEMA_VERSION;
    let version_error = |message: String| {
        let mut error = ConfigError::document(source, ConfigErrorKind::SchemaVersion(message));
        error.field = "schema_version".into();
        error
    };
    if version > current {
        return Err(version_error(format!(
            "version {version} is newer than this wanctl reads (up to {current}); upgrade wanctl, \
             or write the file for version {current} (`wanctl config schema` prints it)"
        )));
    }
    let steps = migrate::chain(T::migrations(), version, current).map_err(|missing| {
        version_error(format!(
            "version {version} is too old to migrate automatically (no step from {missing}); rewrite the file \
             for version {current}: `wanctl config schema` prints the current schema and `configs/` has examples"
        ))
    })?;
    let Value::Mapping(mut map) = value else {
        return Err(version_error("the document must be a mapping".into()));
    };
    let mut notices = Vec::new();
    for step in steps {
        (step.apply)(&mut map).map_err(|message| {
            version_error(format!(
                "migrating from version {} failed: {message}",
                step.from
            ))
        })?;
        notices.push(format!(
            "schema_version {} migrated in memory to {}: {}; update the file",
            step.from,
            step.from + 1,
            step.summary
        ));
    }
    map.insert(Value::from("schema_version"), Value::from(current));
    let document = serde_path_to_error::deserialize(Value::Mapping(map))
        .map_err(|error| typed_error(source, &error))?;
    Ok(Loaded { document, notices })
}

/// Reads `schema_version` before anything else, so that a document of another version gets a message about its
/// version, not about the keys that changed.
fn schema_version<T: Document>(value: &Value, source: &Path) -> Result<u32, ConfigError> {
    let current = T::SCHEMA_VERSION;
    let Value::Mapping(map) = value else {
        let what = if value.is_null() {
            "empty"
        } else {
            "not a mapping"
        };
        return Err(ConfigError::document(
            source,
            ConfigErrorKind::Value(format!(
                "the document is {what}; it must be a mapping that starts with `schema_version: {current}`"
            )),
        ));
    };
    let error = |message: String| {
        let mut error = ConfigError::document(source, ConfigErrorKind::SchemaVersion(message));
        error.field = "schema_version".into();
        error
    };
    match map.get("schema_version") {
        None => Err(error(format!(
            "missing; add `schema_version: {current}` at the top of the file"
        ))),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| {
                error(format!(
                    "`{n}` is not a version number; this wanctl reads {current}"
                ))
            }),
        Some(_) => Err(error(format!("must be a whole number such as {current}"))),
    }
}

fn syntax_error(source: &Path, error: &serde_yaml_ng::Error) -> ConfigError {
    ConfigError {
        file: source.into(),
        location: location(error),
        field: String::new(),
        kind: Box::new(ConfigErrorKind::Syntax(bare_message(error, ""))),
    }
}

fn typed_error(
    source: &Path,
    error: &serde_path_to_error::Error<serde_yaml_ng::Error>,
) -> ConfigError {
    let mut field = error.path().to_string();
    if field == "." {
        field.clear();
    }
    let message = bare_message(error.inner(), &field);
    let kind = match suggest::parse_unknown(&message) {
        Some(unknown) if unknown.what == "field" => {
            // The path ends at the unknown key itself; the field shown is the section that holds it.
            field = parent_path(&field, &unknown.name);
            ConfigErrorKind::UnknownKey {
                suggestion: suggest::closest(&unknown.name, &unknown.expected).map(str::to_string),
                key: unknown.name,
                expected: unknown.expected,
            }
        }
        Some(unknown) => {
            let hint = match suggest::closest(&unknown.name, &unknown.expected) {
                Some(best) => format!("; did you mean `{best}`?"),
                None => format!("; expected one of: {}", unknown.expected.join(", ")),
            };
            ConfigErrorKind::Value(format!("unknown value `{}`{hint}", unknown.name))
        }
        None => ConfigErrorKind::Value(message),
    };
    ConfigError {
        file: source.into(),
        location: location(error.inner()),
        field,
        kind: Box::new(kind),
    }
}

fn location(error: &serde_yaml_ng::Error) -> Option<Location> {
    error.location().map(|at| Location {
        line: at.line(),
        column: at.column(),
    })
}

/// serde_yaml_ng's message without the position and path it appends, which we print in our own form.
fn bare_message(error: &serde_yaml_ng::Error, path: &str) -> String {
    let full = error.to_string();
    let without_mark = full
        .rfind(" at line ")
        .filter(|_| error.location().is_some())
        .map_or(full.as_str(), |at| &full[..at]);
    // serde_yaml_ng prefixes the path it knows (the section, for an unknown key); ours is printed separately.
    match without_mark.split_once(": ") {
        Some((head, rest)) if !head.is_empty() && !path.is_empty() && path.starts_with(head) => {
            rest.to_string()
        }
        _ => without_mark.to_string(),
    }
}

fn parent_path(path: &str, key: &str) -> String {
    path.strip_suffix(key)
        .map(|parent| parent.trim_end_matches('.').to_string())
        .unwrap_or_else(|| path.to_string())
}
