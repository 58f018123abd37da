//! Pipe options (`dir`, `include`, `exclude`, anything else the owner stores) and the
//! composition of `remotepath` from a root path and the sub-folders along the pipe's chain.

use serde_json::{Map, Value};

use crate::{Error, Result};

/// The option the server computes; a client-sent value is dropped.
pub const REMOTEPATH: &str = "remotepath";

/// Validates a pipe's `options` object and returns what is stored: every key the caller sent
/// except the computed `remotepath`.
pub fn clean_options(options: &Map<String, Value>) -> Result<Map<String, Value>> {
    let mut cleaned = options.clone();
    cleaned.remove(REMOTEPATH);
    if let Some(dir) = cleaned.get("dir") {
        match dir {
            Value::Null => {}
            Value::String(dir) => validate_dir("options", dir)?,
            _ => return Err(Error::invalid_field("options", "dir: Not a valid string.")),
        }
    }
    for key in ["include", "exclude"] {
        match cleaned.get(key) {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(_) => {
                return Err(Error::invalid_field(
                    "options",
                    format!("{key}: Not a valid string."),
                ));
            }
        }
    }
    Ok(cleaned)
}

/// Checks a sub-folder: POSIX, forward slashes, no `..`, no control characters. The message
/// says `Paths`, which the d6tpipe tests match on.
pub fn validate_dir(field: &str, dir: &str) -> Result<()> {
    let has_drive =
        dir.len() >= 2 && dir.as_bytes()[1] == b':' && dir.as_bytes()[0].is_ascii_alphabetic();
    if dir.contains('\\') || has_drive {
        return Err(Error::invalid_field(
            field,
            "Paths must use forward slashes, e.g. some/dir",
        ));
    }
    if dir.split('/').any(|segment| segment == "..") {
        return Err(Error::invalid_field(field, "Paths may not contain '..'"));
    }
    if dir.chars().any(|c| c.is_control()) {
        return Err(Error::invalid_field(
            field,
            "Paths may not contain control characters",
        ));
    }
    Ok(())
}

/// The `dir` of an options or settings object, trimmed of slashes; `None` when absent or empty.
pub fn dir_of(options: &Map<String, Value>) -> Option<&str> {
    options
        .get("dir")
        .and_then(Value::as_str)
        .map(|d| d.trim_matches('/'))
        .filter(|d| !d.is_empty())
}

/// `base` (ending in `/`) followed by `dir/` when there is a dir; `.` segments are dropped
/// and slashes never doubled, so the result always ends with exactly one `/`.
pub fn join_dir(base: &str, dir: Option<&str>) -> String {
    let mut path = base.to_string();
    for segment in dir
        .unwrap_or("")
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
    {
        path.push_str(segment);
        path.push('/');
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn dirs() {
        assert!(
            validate_dir("options", "C:\\Drive")
                .unwrap_err()
                .message()
                .contains("Paths")
        );
        assert!(
            validate_dir("options", "C:/x")
                .unwrap_err()
                .message()
                .contains("Paths")
        );
        assert!(validate_dir("options", "a/../b").is_err());
        assert!(validate_dir("options", "/home/d6tdev/d6tpipe-files/vendorX").is_ok());
    }

    #[test]
    fn cleaning_drops_remotepath_and_checks_types() {
        let cleaned = clean_options(&obj(
            json!({"dir": "x", "remotepath": "s3://evil/", "k": 1}),
        ))
        .unwrap();
        assert_eq!(Value::Object(cleaned), json!({"dir": "x", "k": 1}));
        assert!(clean_options(&obj(json!({"dir": 3}))).is_err());
        assert!(clean_options(&obj(json!({"include": ["*.csv"]}))).is_err());
    }

    #[test]
    fn joining() {
        assert_eq!(join_dir("s3://b/", None), "s3://b/");
        assert_eq!(join_dir("s3://b/", Some("vendorX")), "s3://b/vendorX/");
        assert_eq!(
            join_dir("/", dir_of(&obj(json!({"dir": "/home/d/x/"})))),
            "/home/d/x/"
        );
        assert_eq!(join_dir("/", Some("a//./b")), "/a/b/");
        assert_eq!(dir_of(&obj(json!({"dir": "/"}))), None);
    }
}
