//! hallcall: queue calling and hall displays for government service halls.
//!
//! Layout, following the data flow of one operation:
//!
//! - [`config`]: the hall files (zones, services, windows, policy) and their
//!   validation;
//! - [`engine`]: the pure queue engine of one hall: commands in, events out;
//! - [`shards`]: many halls behind one lock each, so halls run in parallel;
//! - [`startup`]: builds the application from its configuration, binds the
//!   listener and serves until told to stop;
//! - [`http`]: the HTTP routes;
//! - [`telemetry`]: tracing set-up;
//! - [`cli`]: the command line.

pub mod cli;
pub mod config;
pub mod engine;
pub mod http;
pub mod service;
pub mod shards;
pub mod startup;
pub mod store;
pub mod telemetry;
