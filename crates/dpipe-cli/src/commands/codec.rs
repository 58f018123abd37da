//! `dpipe encode` and `dpipe decode`: one entry of a settings file with its secrets
//! encrypted with the profile's key, or decrypted, printed as JSON (or written with mode 0600
//! by `--output`). The encrypted entry can be handed to `dpipe remote upsert --file`
//! (d6tpipe's `create_or_update(..., api.encode(settings))`).

use dpipe_client::encode::{ResourceRef, decode as decode_settings, encode as encode_settings};
use dpipe_client::{SettingsFile, write_private};
use serde_json::Value;

use crate::cli::keys::CodecArgs;
use crate::settings::Context;

/// `dpipe encode`.
pub fn encode(ctx: &Context, args: CodecArgs) -> anyhow::Result<()> {
    let entry = load(&args)?;
    let key = ctx.encryption_key()?;
    let encoded = encode_settings(&entry, resource(&args, &entry), &key)?;
    print(ctx, &args, &encoded)
}

/// `dpipe decode`.
pub fn decode(ctx: &Context, args: CodecArgs) -> anyhow::Result<()> {
    let entry = load(&args)?;
    let profile = ctx.profile()?;
    let decoded = decode_settings(&entry, resource(&args, &entry), profile.keys())?;
    print(ctx, &args, &decoded)
}

fn load(args: &CodecArgs) -> anyhow::Result<Value> {
    let file = SettingsFile::load(&args.file)?;
    Ok(Value::Object(file.entry(args.key.as_deref())?))
}

fn resource<'a>(args: &CodecArgs, entry: &'a Value) -> ResourceRef<'a> {
    ResourceRef {
        kind: args.kind.into(),
        name: entry
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    }
}

fn print(ctx: &Context, args: &CodecArgs, value: &Value) -> anyhow::Result<()> {
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
