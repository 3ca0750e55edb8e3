//! Simulated hall days, run through the real engine on a virtual clock,
//! to measure how far the waits hallcall promises are from the waits
//! people then have.
//!
//! - [`model`]: what is assumed about a hall day (arrivals, services,
//!   staff), seeded so runs repeat;
//! - [`day`]: one day played through the engine, recording for every
//!   ticket the estimate it was shown (at issue, and when 10 and 3 people
//!   were ahead) and the wait it had;
//! - [`accuracy`]: the errors, per zone and lane, as BENCHMARKS.md shows them.

pub mod accuracy;
pub mod day;
pub mod model;
