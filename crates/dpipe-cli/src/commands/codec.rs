//! `dpipe encode` and `dpipe decode`: one entry of a settings file with its secrets
//! encrypted with the profile's key, or decrypted, printed as JSON (or written with mode 0600
//! by `--output`). What they print is itself a settings file holding that one entry under
//! its key (`--key`, else the entry's name), so `encode --file F --key K > out.json` is read
//! back by `decode --file out.json --key K`, and can be handed to `dpipe remote upsert --file
//! out.json --key K` (d6tpipe's `create_or_update(..., api.encode(settings))`).

use dpipe_client::encode::{ResourceRef, decode as decode_settings, encode as encode_settings};
use dpipe_client::{SettingsFile, write_private};
use serde_json::{Map, Value};

use crate::cli::keys::CodecArgs;
use crate::settings::Context;

/// `dpipe encode`.
pub fn encode(ctx: &Context, args: CodecArgs) -> anyhow::Result<()> {
    let entry = load(&args)?;
    let key = ctx.encryption_key()?;
    let encoded = encode_settings(&entry, resource(&args, &entry), &key)?;
    print(ctx, &args, encoded)
}

/// `dpipe decode`.
pub fn decode(ctx: &Context, args: CodecArgs) -> anyhow::Result<()> {
    let entry = load(&args)?;
    let profile = ctx.profile()?;
    let decoded = decode_settings(&entry, resource(&args, &entry), profile.keys())?;
    print(ctx, &args, decoded)
}

fn load(args: &CodecArgs) -> anyhow::Result<Value> {
    let file = SettingsFile::load(&args.file)?;
    Ok(Value::Object(file.entry(args.key.as_deref())?))
}

fn resource<'a>(args: &CodecArgs, entry: &'a Value) -> ResourceRef<'a> {
    ResourceRef {
        kind: args.kind.into(),
        name: entry_name(entry),
    }
}

/// The `name` of a settings entry (every loaded entry has one, see [`SettingsFile::entry`]).
fn entry_name(entry: &Value) -> &str {
    entry
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Prints `entry` as a settings file of one entry, under the key it was read from.
fn print(ctx: &Context, args: &CodecArgs, entry: Value) -> anyhow::Result<()> {
    let key = match &args.key {
        Some(key) => key.clone(),
        None => entry_name(&entry).to_string(),
    };
    let value = &Value::Object(Map::from_iter([(key, entry)]));
    match &args.output {
        Some(path) => {
            let text = serde_json::to_string_pretty(value)? + "\n";
            write_private(path, text.as_bytes())?;
            ctx.out
                .note(&format!("Wrote {} (mode 0600).", path.display()));
            Ok(())
        }
        None => ctx.out.json_value(value),
    }
}
