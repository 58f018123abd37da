//! A small JSON Schema checker for the tests: enough of the vocabulary the document uses to
//! tell whether a real answer fits the schema documented for it.

use serde_json::Value;

/// The target of a `$ref`, or `value` itself.
pub(super) fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("a local reference");
            let target = document
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{reference} resolves"));
            resolve(document, target)
        }
        None => value,
    }
}

/// Walks `value`, resolving every `$ref` in it.
pub(super) fn every_ref_resolves(document: &Value, value: &Value) {
    match value {
        Value::Object(map) => {
            if map.contains_key("$ref") {
                resolve(document, value);
            }
            map.values().for_each(|v| every_ref_resolves(document, v));
        }
        Value::Array(items) => items.iter().for_each(|v| every_ref_resolves(document, v)),
        _ => {}
    }
}

/// A small JSON Schema check: `$ref`, `type`, `enum`, `required`, `properties`,
/// `additionalProperties`, `items`, `allOf`, `oneOf`, lengths and member counts (`pattern`
/// and `format` are left to the server's own tests).
pub(super) fn check(
    document: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
) -> Result<(), String> {
    let schema = resolve(document, schema);
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(one) => vec![one.as_str()],
            many => many
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect(),
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let fits = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        if !fits {
            return Err(format!("{at}: {actual}, documented {types:?}"));
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} not in {allowed:?}"));
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        check(document, part, value, at)?;
    }
    if let Some(choices) = schema["oneOf"].as_array() {
        let fitting = choices
            .iter()
            .filter(|c| check(document, c, value, at).is_ok())
            .count();
        if fitting != 1 {
            return Err(format!("{at}: fits {fitting} of oneOf"));
        }
    }
    if let (Some(text), Some(max)) = (value.as_str(), schema["maxLength"].as_u64())
        && text.chars().count() as u64 > max
    {
        return Err(format!("{at}: longer than {max}"));
    }
    if let Some(items) = value.as_array() {
        for (i, item) in items.iter().enumerate() {
            check(document, &schema["items"], item, &format!("{at}[{i}]"))?;
        }
    }
    if let Some(members) = value.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            if !members.contains_key(name.as_str().unwrap()) {
                return Err(format!("{at}: {name} missing"));
            }
        }
        let bounds = (
            schema["minProperties"].as_u64(),
            schema["maxProperties"].as_u64(),
        );
        let count = members.len() as u64;
        if bounds.0.is_some_and(|min| count < min) || bounds.1.is_some_and(|max| count > max) {
            return Err(format!("{at}: {count} members, documented {bounds:?}"));
        }
        for (name, member) in members {
            let at = format!("{at}.{name}");
            match schema["properties"].get(name) {
                Some(property) => check(document, property, member, &at)?,
                None => match &schema["additionalProperties"] {
                    Value::Bool(false) => return Err(format!("{at}: not documented")),
                    extra if extra.is_object() => check(document, extra, member, &at)?,
                    _ => {}
                },
            }
        }
    }
    Ok(())
}
