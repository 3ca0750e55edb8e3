//! Several hallcall processes on one Redis (or Redis Cluster) as one
//! system: each hall is owned by one node at a time, and any node answers
//! for any hall.
//!
//! - `members`: the nodes alive now, from their beats in Redis;
//! - `assign`: which node should own each hall (rendezvous hashing, pins);
//! - `lease`: a hall's lease and the fence epoch its appends must carry.
//!
//! Redis decides: leases expire by Redis's clock, a lease is taken by one
//! script, and the fence is checked by the append script itself. hallcall
//! adds no consensus of its own.

pub mod assign;
pub mod keeper;
pub mod lease;
pub mod members;

use std::time::Duration;

/// How long a lease lasts unless renewed.
pub const LEASE: Duration = Duration::from_secs(3);
/// How often a node beats, renews its leases and looks for halls to take:
/// six renewals fit in a lease, so a late or lost one costs nothing, and
/// a hall handed over is taken within half a second.
pub const BEAT: Duration = Duration::from_millis(500);
