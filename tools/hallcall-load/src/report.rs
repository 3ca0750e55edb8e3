//! What a run prints: a Markdown table for BENCHMARKS.md and one JSON line
//! with every raw figure for machines.

use serde_json::{Map, Value, json};

pub struct Row {
    pub scenario: String,
    pub measure: String,
    pub hallcall: String,
    pub baseline: String,
    pub ratio: String,
    pub target: String,
}

#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
    results: Map<String, Value>,
    failures: Vec<String>,
}

impl Report {
    pub fn row(
        &mut self,
        scenario: &str,
        measure: &str,
        hallcall: String,
        baseline: String,
        ratio: String,
        target: &str,
    ) {
        self.rows.push(Row {
            scenario: scenario.to_owned(),
            measure: measure.to_owned(),
            hallcall,
            baseline,
            ratio,
            target: target.to_owned(),
        });
    }

    /// Raw figures of one scenario, under its name in the JSON line.
    pub fn json(&mut self, key: &str, value: Value) {
        self.results.insert(key.to_owned(), value);
    }

    /// A check that did not hold (missing deliveries, failed connections):
    /// printed under the table and makes the exit code non-zero.
    pub fn fail(&mut self, what: String) {
        eprintln!("  ! {what}");
        self.failures.push(what);
    }

    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
    }

    pub fn print(&self, meta: Value) {
        println!();
        println!("| scenario | measure | hallcall | baseline | hallcall / baseline | target |");
        println!("|---|---|---:|---:|---:|---|");
        for r in &self.rows {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                r.scenario, r.measure, r.hallcall, r.baseline, r.ratio, r.target
            );
        }
        if !self.failures.is_empty() {
            println!();
            for f in &self.failures {
                println!("- FAILED: {f}");
            }
        }
        println!();
        let mut all = match meta {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        all.insert("results".into(), Value::Object(self.results.clone()));
        all.insert("failures".into(), json!(self.failures));
        println!("{}", Value::Object(all));
    }
}
