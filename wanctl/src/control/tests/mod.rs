//! Tests of the control core: scenarios, properties, configuration, persistence and traces.

mod cake;
mod config;
mod helpers;
mod one_way;
mod properties;
mod scenarios;
mod state;
mod trace;
