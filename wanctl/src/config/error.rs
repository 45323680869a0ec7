//! What went wrong in a configuration file, said so that an operator can fix it without reading code:
//! `file:line:column: field.path: message`, plus a hint where one helps.

use std::{fmt, path::PathBuf};

/// A position in the YAML text, 1-based as editors show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

/// Why a configuration document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// The file could not be read.
    Read(String),
    /// Not well-formed YAML.
    Syntax(String),
    /// A key that the schema does not have.
    UnknownKey {
        /// The key as written.
        key: String,
        /// The closest expected key, if one is close enough to be a likely typo.
        suggestion: Option<String>,
        /// Every key allowed at this place.
        expected: Vec<String>,
    },
    /// A wrong type, a missing field, or a value out of range.
    Value(String),
    /// `schema_version` is missing, newer than this build, or too old to migrate.
    SchemaVersion(String),
}

/// A refused configuration: where, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file (or a label such as "<stdin>").
    pub file: PathBuf,
    /// Where in the file, when the parser knows.
    pub location: Option<Location>,
    /// The field path, e.g. `wans[1].interface`; empty for the document itself.
    pub field: String,
    /// What is wrong (boxed: errors travel in `Result`s on hot paths of the loader).
    pub kind: Box<ConfigErrorKind>,
}

impl ConfigError {
    /// An error about the document as a whole (no position).
    pub fn document(file: impl Into<PathBuf>, kind: ConfigErrorKind) -> Self {
        Self {
            file: file.into(),
            location: None,
            field: String::new(),
            kind: Box::new(kind),
        }
    }

    /// An error about one field found by validation after parsing (the parser's positions are gone by then).
    pub fn field(
        file: impl Into<PathBuf>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            location: None,
            field: field.into(),
            kind: Box::new(ConfigErrorKind::Value(message.into())),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(Location { line, column }) = self.location {
            write!(f, ":{line}:{column}")?;
        }
        f.write_str(": ")?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        match &*self.kind {
            ConfigErrorKind::Read(message)
            | ConfigErrorKind::Syntax(message)
            | ConfigErrorKind::Value(message)
            | ConfigErrorKind::SchemaVersion(message) => f.write_str(message),
            ConfigErrorKind::UnknownKey {
                key,
                suggestion,
                expected,
            } => {
                write!(f, "unknown key `{key}`")?;
                match suggestion {
                    Some(suggestion) => write!(f, "; did you mean `{suggestion}`?"),
                    None if expected.is_empty() => f.write_str("; no keys are allowed here"),
                    None => write!(f, "; expected one of: {}", expected.join(", ")),
                }
            }
        }
    }
}
