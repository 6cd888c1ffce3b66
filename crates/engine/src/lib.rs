//! Stampede's engine: everything that can be decided without a browser.
//!
//! Pure Rust with no web-sys and no runtime, so it is unit-tested natively and can later move into
//! a Web Worker unchanged. The browser supplies a [`runner::Transport`]; the UI reads
//! [`stats::Aggregator`] snapshots and builds a [`report::Report`].

pub mod config;
pub mod protocol;
pub mod report;
pub mod runner;
pub mod stats;
pub mod stream;
pub mod suite;
pub mod template;
pub mod worker;

pub use config::{Field, FieldError, Plan, Preset, RunConfig};
pub use runner::{Command, ErrorClass, Event, HttpOutcome, HttpRequest, Sample, Transport};
