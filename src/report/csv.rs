//! A report as one CSV table: a row per group and per hour, the same
//! numbers as the JSON (durations in ms), with a byte-order mark so that
//! spreadsheet programs read the Chinese names as UTF-8.

use std::fmt::Write;

use super::{Report, Row, Stat};

/// The columns, in order.
pub const COLUMNS: &[&str] = &[
    "section",
    "key",
    "name",
    "issued",
    "called",
    "served",
    "skips",
    "no_shows",
    "cancelled",
    "transfers",
    "wait_count",
    "wait_mean_ms",
    "wait_p90_ms",
    "wait_max_ms",
    "service_count",
    "service_mean_ms",
    "service_p90_ms",
    "service_max_ms",
    "walk_count",
    "walk_mean_ms",
    "walk_p90_ms",
    "walk_max_ms",
    "idle_ms",
    "pause_total_ms",
    "pause_signed_in_ms",
    "pause_lunch_ms",
    "pause_break_ms",
    "pause_meeting_ms",
    "pause_training_ms",
    "pause_fault_ms",
    "pause_other_ms",
    "unfinished_at_close",
    "left_waiting",
    "very_satisfied",
    "satisfied",
    "basic",
    "dissatisfied",
    "very_dissatisfied",
    "rated",
    "bad",
    "rating_rate_pct",
    "arrivals",
    "follow_up_bad",
    "follow_up_verified",
    "follow_up_rectified",
    "follow_up_called_back",
];

fn field(out: &mut String, value: &str) {
    // A cell a spreadsheet would read as a formula (=HYPERLINK(…), +, -,
    // @, or a leading tab or return) is kept as text by a leading '; a
    // number stays a number.
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']) && value.parse::<f64>().is_err();
    let value: std::borrow::Cow<str> = if formula {
        format!("'{value}").into()
    } else {
        value.into()
    };
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&value);
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn stat(s: &Stat) -> [String; 4] {
    [s.count.to_string(), opt(s.mean_ms), opt(s.p90_ms), opt(s.max_ms)]
}

fn line(out: &mut String, cells: &[String]) {
    debug_assert_eq!(cells.len(), COLUMNS.len());
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, c);
    }
    out.push_str("\r\n");
}

/// Where a column is (the names above are fixed, so this never fails).
fn column(name: &str) -> usize {
    COLUMNS.iter().position(|c| *c == name).unwrap_or(0)
}

fn row(section: &str, r: &Row, report: &Report) -> Vec<String> {
    let mut cells = vec![
        section.to_owned(),
        r.key.clone(),
        r.name.clone(),
        opt(r.issued),
        r.called.to_string(),
        r.served.to_string(),
        r.skips.to_string(),
        r.no_shows.to_string(),
        r.cancelled.to_string(),
        r.transfers.to_string(),
    ];
    cells.extend(stat(&r.wait));
    cells.extend(stat(&r.service));
    cells.extend(stat(&r.walk));
    cells.push(opt(r.idle_ms));
    match &r.pause {
        Some(p) => cells.extend(
            [
                p.total_ms,
                p.signed_in_ms,
                p.lunch_ms,
                p.break_ms,
                p.meeting_ms,
                p.training_ms,
                p.fault_ms,
                p.other_ms,
            ]
            .map(|x| x.to_string()),
        ),
        None => cells.extend(std::iter::repeat_n(String::new(), 8)),
    }
    cells.push(r.unfinished_at_close.to_string());
    cells.push(opt(r.left_waiting));
    let g = &r.ratings;
    cells.extend(
        [
            g.very_satisfied,
            g.satisfied,
            g.basic,
            g.dissatisfied,
            g.very_dissatisfied,
            g.rated,
            g.bad,
        ]
        .map(|x| x.to_string()),
    );
    cells.push(opt(g.rate_pct));
    cells.push(String::new());
    if section == "hall" {
        let f = &report.follow_ups;
        cells.extend([f.bad, f.verified, f.rectified, f.called_back].map(|x| x.to_string()));
    } else {
        cells.extend(std::iter::repeat_n(String::new(), 4));
    }
    cells
}

/// The report as CSV text.
pub fn to_csv(report: &Report) -> String {
    let mut out = String::from("\u{feff}");
    line(&mut out, &COLUMNS.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>());
    line(&mut out, &row("hall", &report.total, report));
    for (section, rows) in [
        ("zone", &report.zones),
        ("service", &report.services),
        ("window", &report.windows),
        ("staff", &report.staff),
    ] {
        for r in rows {
            line(&mut out, &row(section, r, report));
        }
    }
    for h in &report.hours {
        let mut cells = vec![String::new(); COLUMNS.len()];
        cells[0] = "hour".into();
        cells[1] = h.hour.to_string();
        let _ = write!(cells[2], "{:02}:00", h.hour);
        cells[column("served")] = h.served.to_string();
        let wait = column("wait_count");
        cells[wait..wait + 4].clone_from_slice(&stat(&h.wait));
        cells[column("arrivals")] = h.arrivals.to_string();
        line(&mut out, &cells);
    }
    out
}
