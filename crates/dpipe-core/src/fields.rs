//! Reading fields out of a JSON request body with the error texts Django REST Framework
//! would give, so that the server and local mode reject wrong types identically.

use serde_json::{Map, Value};

use crate::{Error, Result};

/// A request body known to be a JSON object.
#[derive(Clone, Copy)]
pub struct Body<'a>(&'a Map<String, Value>);

impl<'a> Body<'a> {
    /// Accepts only a JSON object (DRF: "Expected a dictionary").
    pub fn new(value: &'a Value) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Body(map)),
            other => Err(Error::invalid_field(
                "non_field_errors",
                format!(
                    "Invalid data. Expected a dictionary, but got {}.",
                    type_name(other)
                ),
            )),
        }
    }

    /// The underlying map.
    pub fn map(&self) -> &'a Map<String, Value> {
        self.0
    }

    /// True when the body carries `field` (even as null).
    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// An optional string field; null counts as absent.
    pub fn opt_str(&self, field: &str) -> Result<Option<&'a str>> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(Error::invalid_field(field, "Not a valid string.")),
        }
    }

    /// A required, non-blank string field.
    pub fn str(&self, field: &str) -> Result<&'a str> {
        match self.opt_str(field)? {
            None => Err(Error::required(field)),
            Some(s) if s.trim().is_empty() => {
                Err(Error::invalid_field(field, "This field may not be blank."))
            }
            Some(s) => Ok(s),
        }
    }

    /// An optional JSON-object field; null counts as absent.
    pub fn opt_object(&self, field: &str) -> Result<Option<&'a Map<String, Value>>> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(Error::invalid_field(
                field,
                format!(
                    "Expected a dictionary of items but got type \"{}\".",
                    type_name(other)
                ),
            )),
        }
    }
}

/// The Python-ish name of a JSON value's type, as DRF reports it.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}
