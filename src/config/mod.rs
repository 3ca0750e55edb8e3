//! Hall configuration: reading the TOML files in `config/`, validating them,
//! and reporting every mistake with its file, line, column and place.
//!
//! Parsing and validation are pure (`parse`); only `load` touches the disk.

mod document;
mod file;
pub mod identity;
mod model;
mod outbound;
mod validate;

use std::fmt;
use std::path::Path;

pub use document::{directory_text, parse_hall, same_document, split_halls};
pub use model::*;
pub use outbound::{DEFAULT_RETRY_HOURS, EVENT_TYPES, Outbound, Platform, Webhook};

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Which hall, zone or window the problem is in.
    pub place: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.place, self.problem
        )
    }
}

/// All the problems found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Parses and validates configuration text; `file` names it in errors.
///
/// # Errors
/// Every syntax or rule problem found, each with its place.
pub fn parse(src: &str, file: &str) -> Result<ServerConfig, ConfigErrors> {
    let raw = read(src, file)?;
    let mut cfg = validate::validate(raw, src, file, false)?;
    for (hall, text) in cfg.halls.iter_mut().zip(split_halls(src)) {
        hall.text = std::sync::Arc::from(text);
    }
    Ok(cfg)
}

/// The file as written, or its syntax error.
fn read(src: &str, file: &str) -> Result<file::File, ConfigErrors> {
    toml::from_str(src).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| validate::line_col(src, s.start));
        ConfigErrors(vec![ConfigError {
            file: file.to_owned(),
            line,
            column,
            place: "syntax".to_owned(),
            problem: e.message().trim().to_owned(),
        }])
    })
}

/// Reads and validates a configuration file.
///
/// # Errors
/// The file cannot be read, or [`parse`] refuses it.
pub fn load(path: &Path) -> Result<ServerConfig, ConfigErrors> {
    let name = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: name.clone(),
            line: 0,
            column: 0,
            place: "file".to_owned(),
            problem: format!("cannot read: {e}"),
        }])
    })?;
    parse(&src, &name)
}

#[cfg(test)]
mod tests;
