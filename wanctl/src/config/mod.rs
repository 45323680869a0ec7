//! Configuration: YAML schema, units, validation with errors that name the file, position and field.

mod document;
mod error;
pub mod load;
pub mod migrate;
pub mod reference;
mod service;
mod suggest;
pub mod units;
pub mod validate;

pub use document::{Config, WanConfig, load_config, load_config_str, reload_config};
pub use error::{ConfigError, ConfigErrorKind, Location};
pub use load::{Document, Loaded};
pub use service::{LogFormat, ServiceConfig, WatchdogPolicy};
pub use units::{Bandwidth, DurationSpec, UnitError};

#[cfg(test)]
mod tests;
