//! The control core: per-direction state machines and rate laws. Pure: time is passed in.
