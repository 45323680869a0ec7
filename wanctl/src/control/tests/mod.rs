//! Tests of the control core: scenarios, properties, configuration and persistence.

mod helpers;
