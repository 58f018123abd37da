//! Request bodies of the remote and pipe commands: the `--file` entry (if any) with the flags
//! laid over it, plus the warnings about credentials that could leak.

use dpipe_client::SettingsFile;
use dpipe_client::encode::{ResourceKind, ResourceRef, encode};
use dpipe_client::settings_file::{holds_credentials, merge};
use serde_json::{Map, Value};

use crate::cli::{PipeArgs, StorageArgs};
use crate::output::Output;
use crate::settings::Context;

/// `body` with its secrets encrypted with the profile's key for the resource it names, when
/// `--encrypt` was given; as it is otherwise.
pub fn encrypt_if_asked(
    ctx: &Context,
    args: &StorageArgs,
    body: Value,
    kind: ResourceKind,
) -> anyhow::Result<Value> {
    if !args.encrypt {
        return Ok(body);
    }
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
    let key = ctx.encryption_key()?;
    Ok(encode(&body, ResourceRef { kind, name }, &key)?)
}

/// The body of `remote upsert`: `--dir` is the remote's `settings.dir`.
pub fn remote_body(args: &StorageArgs, out: &Output) -> anyhow::Result<Value> {
    let mut flags = storage_flags(args);
    if let Some(dir) = &args.dir {
        let settings = Map::from_iter([("dir".to_string(), Value::from(dir.as_str()))]);
        merge(
            &mut flags,
            Map::from_iter([("settings".to_string(), Value::Object(settings))]),
        );
    }
    with_file(args, flags, out)
}

/// The body of `pipe create` and `pipe upsert`: `--dir`, `--include` and `--exclude` are the
/// pipe's `options`.
pub fn pipe_body(args: &PipeArgs, out: &Output) -> anyhow::Result<Value> {
    let mut flags = storage_flags(&args.storage);
    for (field, value) in [("remote", &args.remote), ("parent", &args.parent)] {
        if let Some(value) = value {
            flags.insert(field.to_string(), value.as_str().into());
        }
    }
    let mut options = Map::new();
    for (key, value) in [
        ("dir", &args.storage.dir),
        ("include", &args.include),
        ("exclude", &args.exclude),
    ] {
        if let Some(value) = value {
            options.insert(key.to_string(), value.as_str().into());
        }
    }
    if !options.is_empty() {
        flags.insert("options".to_string(), Value::Object(options));
    }
    with_file(&args.storage, flags, out)
}

/// The flags remotes and pipes share.
fn storage_flags(args: &StorageArgs) -> Map<String, Value> {
    let mut body = Map::new();
    let name = args.name.clone().or_else(|| args.name_argument.clone());
    for (field, value) in [
        ("name", &name),
        ("protocol", &args.protocol),
        ("location", &args.location),
    ] {
        if let Some(value) = value {
            body.insert(field.to_string(), value.as_str().into());
        }
    }
    if !args.settings.is_empty() {
        body.insert("settings".to_string(), Value::Object(pairs(&args.settings)));
    }
    if !args.credentials.is_empty() {
        body.insert(
            "credentials".to_string(),
            Value::Object(pairs(&args.credentials)),
        );
    } else if !args.read_credentials.is_empty() || !args.write_credentials.is_empty() {
        let mut split = Map::new();
        for (half, given) in [
            ("read", &args.read_credentials),
            ("write", &args.write_credentials),
        ] {
            if !given.is_empty() {
                split.insert(half.to_string(), Value::Object(pairs(given)));
            }
        }
        body.insert("credentials".to_string(), Value::Object(split));
    }
    if let Some(schema) = &args.schema {
        body.insert("schema".to_string(), schema.clone());
    }
    body
}

/// Lays `flags` over the `--file` entry, warning when credentials could leak: given on the
/// command line, or kept in a file other users can read.
fn with_file(args: &StorageArgs, flags: Map<String, Value>, out: &Output) -> anyhow::Result<Value> {
    if holds_credentials(&flags) {
        out.warn(
            "credentials given on the command line land in your shell history; \
             prefer --file with a file only you can read",
        );
    }
    let mut body = match &args.file {
        Some(path) => {
            let file = SettingsFile::load(path)?;
            let entry = file.entry(args.key.as_deref())?;
            if holds_credentials(&entry) && file.readable_by_others() {
                out.warn(&format!(
                    "{} holds credentials and other users can read it; run `chmod 600 {}`",
                    file.path().display(),
                    file.path().display()
                ));
            }
            entry
        }
        None => Map::new(),
    };
    merge(&mut body, flags);
    Ok(Value::Object(body))
}

fn pairs(pairs: &[(String, String)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}
