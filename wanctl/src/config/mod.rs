//! Configuration: YAML schema, units, validation with errors that name the field.

pub mod units;

pub use units::{Bandwidth, DurationSpec, UnitError};
