//! hallcall: queue calling and hall displays for government service halls.
//!
//! Layout, following the data flow of one operation:
//!
//! - [`audio`]: voice announcements composed from recorded clips;
//! - [`auth`]: accounts, signed tokens, citizens' ticket tokens, hashed
//!   personal numbers and rate limits;
//! - [`config`]: the hall files (zones, services, windows, policy) and their
//!   validation;
//! - [`engine`]: the pure queue engine of one hall: commands in, events out;
//! - [`shards`]: many halls behind one lock each, so halls run in parallel;
//! - [`startup`]: builds the application from its configuration, binds the
//!   listener and serves until told to stop;
//! - [`store`]: the durable log (embedded journal or Redis), one writer
//!   task doing group commit;
//! - [`service`]: the path of one operation through lock, engine and store;
//! - [`hub`]: durable events fanned out to screens over WebSockets;
//! - [`metrics`]: counters and histograms for `/metrics`;
//! - [`report`]: day and range reports, replayed from the stored events;
//! - [`archive`]: every event copied into PostgreSQL, for years of history;
//! - [`http`]: the HTTP routes and the WebSocket endpoint;
//! - [`wire`]: what HTTP and WebSocket clients receive, per audience
//!   (staff, public screens, citizens), named field by field;
//! - [`ws`]: the WebSocket transport: handshake and frames;
//! - [`telemetry`]: tracing set-up;
//! - [`cli`]: the command line;
//! - [`export`]: `--export-config`, the halls' configuration as the store runs it.

pub mod archive;
pub mod audio;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod engine;
pub mod export;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod notices;
pub mod outbox;
pub mod print;
pub mod report;
pub mod service;
pub mod shards;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod wire;
pub mod ws;
