//! Integration tests: one binary, real servers on port 0, the real executable.

mod cli;
mod health;
mod helpers;
