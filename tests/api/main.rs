//! Integration tests: one binary, real servers on port 0, the real
//! executable, and redis-servers and PostgreSQL servers of their own.

mod alerts;
mod appointments;
mod archive;
mod audit;
mod bad_input;
mod challenge;
mod cli;
mod cluster;
mod commands;
mod config;
mod connections;
mod crash;
mod devices;
mod directory;
mod durability;
#[path = "../support/escpos_printer.rs"]
mod escpos_printer;
mod estimates;
mod evaluator;
mod failover;
mod health;
mod helpers;
mod idempotency;
#[path = "../support/ldap_server.rs"]
mod ldap_server;
mod live;
mod metrics;
mod notices;
mod outbox;
mod passes;
mod person_key;
#[path = "../support/postgres_server.rs"]
mod postgres_server;
mod printing;
mod proxy;
mod ratings;
mod redis;
#[path = "../support/redis_server.rs"]
mod redis_server;
mod reports;
mod resume;
mod roles;
mod sign_in_flood;
#[path = "../support/sms_peer.rs"]
mod sms_peer;
mod voice;
#[path = "../support/webhook_receiver.rs"]
mod webhook_receiver;
#[path = "../support/wechat_peer.rs"]
mod wechat_peer;
