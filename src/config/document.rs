//! A hall's own configuration document: the `[[hall]]` table of the
//! server's file, cut out with its comments. It is what a configuration
//! version holds (see `engine::respec`), what an administrator edits and
//! what `hallcall config export` writes; the server's file only seeds it.

use toml_edit::{ArrayOfTables, DocumentMut, Item};

use super::{ConfigError, ConfigErrors, HallConfig, file, validate};

/// Each `[[hall]]` of a server's file as a document of its own, in order.
/// The file must parse (see [`super::parse`]); `[directory]` stays behind.
pub fn split_halls(src: &str) -> Vec<String> {
    let Ok(doc) = src.parse::<DocumentMut>() else {
        return Vec::new();
    };
    let Some(halls) = doc.get("hall").and_then(Item::as_array_of_tables) else {
        return Vec::new();
    };
    halls
        .iter()
        .map(|h| {
            let mut one = DocumentMut::new();
            let mut list = ArrayOfTables::new();
            list.push(h.clone());
            one.insert("hall", Item::ArrayOfTables(list));
            let text = one.to_string();
            text.trim_start_matches('\n').to_owned()
        })
        .collect()
}

/// A hall's document from its `[[hall]]` line on: the comments above it
/// (which a file or an export puts there) do not make another version.
pub fn same_document(a: &str, b: &str) -> bool {
    let body = |t: &str| -> String {
        t.lines()
            .skip_while(|l| !l.trim_start().starts_with("[[hall]]"))
            .collect::<Vec<_>>()
            .join("\n")
            .trim_end()
            .to_owned()
    };
    body(a) == body(b)
}

/// The server file's `[directory]` table as a document of its own, if any.
pub fn directory_text(src: &str) -> Option<String> {
    let doc = src.parse::<DocumentMut>().ok()?;
    let table = doc.get("directory")?.clone();
    let mut one = DocumentMut::new();
    one.insert("directory", table);
    Some(one.to_string())
}

/// Parses and validates one hall's document, with the same messages as the
/// server's file. `has_directory`: the server signs staff in against a
/// directory, so the hall may map directory groups.
///
/// # Errors
/// Every problem found; a document that holds anything but one hall.
pub fn parse_hall(src: &str, name: &str, has_directory: bool) -> Result<HallConfig, ConfigErrors> {
    let one = |problem: &str| {
        ConfigErrors(vec![ConfigError {
            file: name.to_owned(),
            line: 1,
            column: 1,
            place: "file".to_owned(),
            problem: problem.to_owned(),
        }])
    };
    let raw: file::File = super::read(src, name)?;
    if raw.directory.is_some() {
        return Err(one(
            "a hall's configuration holds no [directory]: the directory is the server's, in its file",
        ));
    }
    if raw.hall.len() != 1 {
        return Err(one("a hall's configuration holds exactly one [[hall]]"));
    }
    let mut cfg = validate::validate(raw, src, name, has_directory)?;
    let mut hall = cfg.halls.remove(0);
    hall.text = std::sync::Arc::from(src);
    Ok(hall)
}
