//! `hallcall-sim`: simulated days of a configured hall through the engine,
//! and how accurate the waits it promised were (BENCHMARKS.md).

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use hallcall_sim::accuracy::{Lane, Sample, Summary, group, summarize};
use hallcall_sim::day::{Outcome, Play, Point, run_with};
use hallcall_sim::model::{Assumptions, Hall};
use rand::SeedableRng;

#[derive(Parser)]
#[command(about = "Simulated hall days: estimated waits against the waits that followed")]
struct Args {
    /// The halls' configuration.
    #[arg(long, default_value = "config/hall.toml")]
    config: PathBuf,
    /// The hall to simulate (default: the first).
    #[arg(long)]
    hall: Option<String>,
    /// Days to simulate (each its own draws).
    #[arg(long, default_value_t = 40)]
    days: u32,
    /// The run's seed: the same seed, the same days.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Arrivals as a share of what the windows can serve.
    #[arg(long, default_value_t = 0.9)]
    load: f64,
    /// Also play the same days with a supervisor following the 潮汐窗口
    /// advice, and compare the waits.
    #[arg(long)]
    advice: bool,
    /// Also play the rest of the day this many times from each ticket's
    /// issue, with what no estimator can know drawn afresh from the
    /// model, and give the median of those waits as a reference estimate
    /// (0: none).
    #[arg(long, default_value_t = 0)]
    reference: usize,
    /// Also give the forecast's accuracy at issue by the hour of issue.
    #[arg(long)]
    by_hour: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cfg = hallcall::config::load(&args.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let chosen = match &args.hall {
        Some(id) => cfg
            .halls
            .iter()
            .find(|h| h.spec.id.as_str() == id)
            .context("no such hall")?,
        None => cfg.halls.first().context("no hall configured")?,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let assumptions = Assumptions {
        load: args.load,
        ..Assumptions::default()
    };
    let hall = Hall::new(chosen.spec.clone(), assumptions, &mut rng);
    // Working days from a Monday, weekends skipped.
    let mut date = jiff::civil::date(2026, 11, 2);
    let mut outcomes: Vec<Outcome> = Vec::new();
    let (mut issued, mut served, mut no_shows, mut never) = (0, 0, 0, 0);
    for _ in 0..args.days {
        while matches!(
            date.weekday(),
            jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
        ) {
            date = date.tomorrow()?;
        }
        let play = Play {
            advised: false,
            reference: args.reference,
        };
        let (day, totals) = run_with(&hall, date, &mut rng, play);
        issued += totals.issued;
        served += totals.served;
        no_shows += totals.no_shows;
        never += totals.never_called;
        outcomes.extend(day);
        date = date.tomorrow()?;
    }
    let waits: Vec<f64> = outcomes
        .iter()
        .filter_map(|o| o.called.map(|c| c.since(o.issued) as f64 / 60_000.0))
        .collect();
    let mut sorted = waits.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "hall {} · {} days · seed {} · load {} · {issued} tickets ({served} served, {no_shows} no-shows, {never} never called) · wait median {:.1} min, p90 {:.1} min",
        hall.spec.id,
        args.days,
        args.seed,
        args.load,
        sorted.get(sorted.len() / 2).copied().unwrap_or(0.0),
        sorted.get(sorted.len() * 9 / 10).copied().unwrap_or(0.0),
    );
    if args.advice {
        advice_effect(&hall, &args)?;
    }
    if args.by_hour {
        by_hour(&hall, &outcomes);
    }
    println!();
    println!(
        "| group | read | estimator | n | no estimate | median abs error | p90 abs error | median rel. error | p90 rel. error | median bias | wait in range |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let grouped = group(&outcomes);
    let mut keys: Vec<_> = grouped
        .samples
        .keys()
        .chain(grouped.unestimated.keys())
        .copied()
        .collect();
    keys.sort();
    keys.dedup();
    for key @ (zone, lane, point, estimator) in keys {
        let name = match (zone, lane) {
            (None, None) => "all".to_owned(),
            (Some(z), None) => format!("zone {}", hall.spec.zones[z].id),
            (None, Some(Lane::Priority)) => "priority lane".to_owned(),
            (None, Some(Lane::Normal)) => "normal lane".to_owned(),
            (None, Some(Lane::Appointment)) => "appointments".to_owned(),
            (Some(_), Some(_)) => continue,
        };
        let none = grouped.unestimated.get(&key).copied().unwrap_or(0);
        let s: Summary = summarize(grouped.samples.get(&key).map_or(&[][..], Vec::as_slice));
        println!(
            "| {name} | {} | {} | {} | {none} | {:.1} min | {:.1} min | {:.1}% | {:.0}% | {:+.1} min | {} |",
            point.name(),
            estimator.name(),
            s.n,
            s.median_abs_min,
            s.p90_abs_min,
            s.median_rel * 100.0,
            s.p90_rel * 100.0,
            s.median_bias_min,
            s.in_range.map_or("".to_owned(), |r| format!("{:.0}%", r * 100.0)),
        );
    }
    Ok(())
}

/// Accuracy at issue by the hour the ticket was taken: where in the day
/// the misses are.
fn by_hour(hall: &Hall, outcomes: &[Outcome]) {
    type Hours = std::collections::BTreeMap<i8, Vec<Sample>>;
    let (mut forecast, mut reference): (Hours, Hours) = Default::default();
    for o in outcomes {
        let Some(r) = o.estimates.iter().find(|r| r.point == Point::Issue) else {
            continue;
        };
        let (Some(actual_ms), Ok(t)) = (o.actual_from(r.at), jiff::Timestamp::from_millisecond(o.issued.0)) else {
            continue;
        };
        let hour = hall.spec.time_zone.to_datetime(t).hour();
        for (map, estimate, range_ms) in [
            (&mut forecast, r.forecast_ms, r.range_ms),
            (&mut reference, o.reference_ms, None),
        ] {
            if let Some(estimate_ms) = estimate {
                map.entry(hour).or_default().push(Sample {
                    estimate_ms,
                    actual_ms,
                    range_ms,
                });
            }
        }
    }
    println!();
    println!(
        "| hour of issue | n | median abs error | p90 abs error | median rel. error | median bias | wait in range | model reference: median rel. error |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (h, samples) in &forecast {
        let s = summarize(samples);
        let bound = reference
            .get(h)
            .map_or(String::new(), |b| format!("{:.1}%", summarize(b).median_rel * 100.0));
        println!(
            "| {h:02}:00 | {} | {:.1} min | {:.1} min | {:.1}% | {:+.1} min | {} | {bound} |",
            s.n,
            s.median_abs_min,
            s.p90_abs_min,
            s.median_rel * 100.0,
            s.median_bias_min,
            s.in_range.map_or("".to_owned(), |r| format!("{:.0}%", r * 100.0)),
        );
    }
}

/// The same days (same seed) without and with the advice followed: mean
/// and p90 wait to the first call, per zone and in all.
fn advice_effect(hall: &Hall, args: &Args) -> anyhow::Result<()> {
    let mut table: Vec<(bool, Vec<Outcome>, usize)> = Vec::new();
    for advised in [false, true] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
        // The hall's per-service means come from the same seed as in main.
        let _ = Hall::new(hall.spec.clone(), hall.assumptions.clone(), &mut rng);
        let mut date = jiff::civil::date(2026, 11, 2);
        let (mut outcomes, mut followed) = (Vec::new(), 0);
        for _ in 0..args.days {
            while matches!(
                date.weekday(),
                jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
            ) {
                date = date.tomorrow()?;
            }
            let play = Play { advised, reference: 0 };
            let (day, totals) = run_with(hall, date, &mut rng, play);
            followed += totals.advice_followed;
            outcomes.extend(day);
            date = date.tomorrow()?;
        }
        table.push((advised, outcomes, followed));
    }
    let stats = |o: &[&Outcome]| {
        let mut w: Vec<f64> = o
            .iter()
            .filter_map(|o| o.called.map(|c| c.since(o.issued) as f64 / 60_000.0))
            .collect();
        w.sort_by(f64::total_cmp);
        let mean = w.iter().sum::<f64>() / w.len().max(1) as f64;
        (mean, w.get(w.len() * 9 / 10).copied().unwrap_or(0.0), w.len())
    };
    println!();
    println!("| group | advice | tickets | mean wait | p90 wait |");
    println!("|---|---|---:|---:|---:|");
    let groups: Vec<(String, Option<usize>)> = std::iter::once(("all".to_owned(), None))
        .chain(
            hall.spec
                .zones
                .iter()
                .enumerate()
                .map(|(z, zone)| (format!("zone {}", zone.id), Some(z))),
        )
        .collect();
    for (name, zone) in groups {
        for (advised, outcomes, followed) in &table {
            let picked: Vec<&Outcome> = outcomes.iter().filter(|o| zone.is_none_or(|z| o.zone == z)).collect();
            let (mean, p90, n) = stats(&picked);
            let how = if *advised {
                format!("followed ({followed} changes)")
            } else {
                "not followed".to_owned()
            };
            println!("| {name} | {how} | {n} | {mean:.1} min | {p90:.1} min |");
        }
    }
    Ok(())
}
