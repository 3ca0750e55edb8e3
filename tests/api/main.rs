//! Integration tests: one binary, real servers on port 0, the real executable.

mod cli;
mod commands;
mod crash;
mod durability;
mod health;
mod helpers;
