//! Builders shared by the control tests.
