//! `dpipe key show|set|rotate`: the profile's encryption key (d6tpipe's "Managing Your
//! Encryption Key"). The key is the user's to share with a team, so `show` prints it, with a
//! warning on stderr; a profile without a key has nothing to show (a key is made by `rotate`
//! or by the first `--encrypt`, or given by `set`).
//!
//! `rotate` is crash-safe: it first saves the profile with the new key as current and the
//! old one in `previous_keys`, then re-encrypts resource by resource
//! ([`dpipe_client::rotate`]), and only then forgets the old key. Interrupted, every value
//! still decrypts with one of the two keys the profile holds, and running it again (while
//! `previous_keys` is not empty) finishes with the same new key.

use dpipe_client::rotate::reencrypt;
use dpipe_client::{Decrypting, Error, ErrorKind, Key};
use serde_json::json;

use crate::cli::keys::KeyCommand;
use crate::output::fields;
use crate::settings::Context;

/// Runs one `dpipe key` command.
pub fn run(ctx: &mut Context, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Show => {
            let profile = ctx.profile()?;
            let key = profile
                .key()
                .cloned()
                .ok_or_else(|| no_key(profile.name()))?;
            ctx.out.warn(
                "this key decrypts every credential encrypted with it: give it only to \
                 people who may use them",
            );
            let shown = json!({"key": key.to_text(), "id": key.id()});
            ctx.out.show(&shown, |_| key.to_text())
        }
        KeyCommand::Set { key } => {
            let key = Key::parse(&key)?;
            let profile = ctx.profile()?;
            let mut previous: Vec<Key> = profile.keys().previous().to_vec();
            // The replaced key keeps decrypting until `key rotate` re-encrypts its values.
            if let Some(old) = profile.key().filter(|old| *old != &key) {
                previous.push(old.clone());
            }
            previous.retain(|k| k != &key);
            ctx.config.set_keys(profile.name(), Some(&key), &previous)?;
            ctx.save()?;
            ctx.out.note(&format!(
                "Saved the key (id {}) in profile {}.",
                key.id(),
                profile.name()
            ));
            if !previous.is_empty() {
                ctx.out.note(
                    "The previous key is kept for decrypting; run `dpipe key rotate` to \
                     re-encrypt your values with the new key and forget it.",
                );
            }
            Ok(())
        }
        KeyCommand::Rotate => rotate(ctx),
    }
}

/// The error of `key show` on a profile without a key: not found (exit code 3), as for any
/// other profile entry that does not exist; showing must not make a key nobody has yet.
fn no_key(profile: &str) -> anyhow::Error {
    Error::new(
        ErrorKind::NotFound,
        format!(
            "profile {profile} has no encryption key: run `dpipe key set KEY` with the key your \
             team shares, or `dpipe key rotate` to make one (`--encrypt` also makes one)"
        ),
    )
    .into()
}

fn rotate(ctx: &mut Context) -> anyhow::Result<()> {
    let profile = ctx.profile()?;
    let name = profile.name().to_string();
    if profile.keys().previous().is_empty() {
        let new = Key::generate()?;
        let old: Vec<Key> = profile.key().cloned().into_iter().collect();
        ctx.config.set_keys(&name, Some(&new), &old)?;
        ctx.save()?;
        ctx.out
            .note(&format!("Made the new key {} of profile {name}.", new.id()));
    } else {
        ctx.out.note(&format!(
            "Continuing the unfinished rotation of profile {name}."
        ));
    }
    let profile = ctx.profile()?;
    let key = profile
        .key()
        .cloned()
        .expect("the profile was just given a key");
    let api = Decrypting::new(profile.raw_api()?, profile.keys().clone());
    let rotation = reencrypt(&api, &key)?;
    for resource in &rotation.foreign {
        ctx.out.warn(&format!(
            "{resource} is encrypted with a key this profile does not hold; left as it is"
        ));
    }
    let summary = json!({
        "key_id": key.id(),
        "reencrypted": rotation.reencrypted,
        "foreign": rotation.foreign,
        "unfinished": rotation.unfinished,
    });
    if !rotation.unfinished.is_empty() {
        anyhow::bail!(
            "the rotation is unfinished: the encrypted settings of {} cannot be read back to \
             re-encrypt them; upsert them again with --encrypt, then run `dpipe key rotate` \
             again (the old key is kept until then)",
            rotation.unfinished.join(", ")
        );
    }
    ctx.config.set_keys(&name, Some(&key), &[])?;
    ctx.save()?;
    ctx.out.note(&format!(
        "Rotated the key of profile {name}; the old key is forgotten."
    ));
    ctx.out.show(&summary, |_| {
        fields(&[
            ("key id", key.id().to_string()),
            ("re-encrypted", rotation.reencrypted.join(", ")),
        ])
    })
}
