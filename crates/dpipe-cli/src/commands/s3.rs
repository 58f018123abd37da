//! `dpipe s3 create-bucket-with-users|delete-bucket|delete-user`: the command-line face of
//! `dpipe-provision`. Provisioning runs on a Tokio runtime of its own; the repo API is called
//! after it, outside the runtime (the HTTP client blocks).
//!
//! A provisioned remote is never lost: if storing it as a remote fails after AWS made the
//! keys, the settings are still printed (or written to `--output`) before the error. If
//! provisioning fails, `dpipe-provision` has undone its work and no remote is stored.

use std::future::Future;
use std::path::Path;

use anyhow::Context as _;
use dpipe_client::encode::{ResourceRef, encode};
use dpipe_client::write_private;
use dpipe_provision::{
    AdminSession, Removal, SessionOptions, create_bucket_with_users, delete_bucket, delete_user,
};
use serde_json::Value;

use crate::cli::GlobalArgs;
use crate::cli::s3::{AwsArgs, CreateArgs, S3Command};
use crate::commands::remote;
use crate::output::Output;
use crate::settings::Context;

/// Runs one `dpipe s3` command. Only `--upsert-remote` and `--encrypt` read the profiles file.
pub fn run(global: &GlobalArgs, command: S3Command) -> anyhow::Result<()> {
    let out = Output::new(global.json);
    match command {
        S3Command::CreateBucketWithUsers(args) => create(global, out, args),
        S3Command::DeleteBucket { bucket, force, aws } => {
            let removal =
                block_on(async { delete_bucket(&session(aws).await?, &bucket, force).await })?;
            report(out, removal, &format!("bucket {bucket}"));
            Ok(())
        }
        S3Command::DeleteUser { user, aws } => {
            let removal = block_on(async { delete_user(&session(aws).await?, &user).await })?;
            report(out, removal, &format!("user {user}"));
            Ok(())
        }
    }
}

fn create(global: &GlobalArgs, out: Output, args: CreateArgs) -> anyhow::Result<()> {
    // The profile (and with --encrypt its key) is checked before anything is made in AWS.
    let ctx = match args.upsert_remote || args.encrypt {
        true => Some(Context::load(global)?),
        false => None,
    };
    let api = match (&ctx, args.upsert_remote) {
        (Some(ctx), true) => Some(ctx.api()?),
        _ => None,
    };
    let key = match (&ctx, args.encrypt) {
        (Some(ctx), true) => Some(ctx.encryption_key()?),
        _ => None,
    };
    let remote =
        block_on(async { create_bucket_with_users(&session(args.aws).await?, &args.name).await })?;
    let made = format!(
        "bucket {bucket} with users {bucket}-read and {bucket}-write",
        bucket = remote.location
    );
    // With --encrypt the new keys never leave this process in clear.
    let settings = serde_json::to_value(&remote)?;
    let settings = match &key {
        Some(key) => encode(&settings, ResourceRef::remote(&remote.name), key)?,
        None => settings,
    };
    let Some(api) = api else {
        let place = hand_over(out, &remote.name, &settings, args.output.as_deref())?;
        out.note(&format!("Created {made}."));
        if args.output.is_none() {
            out.warn(&format!(
                "the settings {place} hold the new secret keys: keep them in a file only you \
                 can read (--output FILE writes one with mode 0600), or store them with \
                 --upsert-remote"
            ));
        }
        return Ok(());
    };
    match api.upsert_remote(&settings) {
        Ok(view) => {
            out.note(&format!(
                "Created {made}; stored their keys in remote {}.",
                remote.name
            ));
            out.show(&view, remote::show)
        }
        Err(err) => {
            let place = hand_over(out, &remote.name, &settings, args.output.as_deref())?;
            let file = args
                .output
                .as_ref()
                .map_or("FILE".into(), |p| p.display().to_string());
            Err(err).with_context(|| {
                format!(
                    "created {made}, but storing remote {name} failed; the settings with the \
                     new keys are {place}: once the cause is fixed, store them with `dpipe \
                     remote upsert --file {file}` (running this command again would rotate the \
                     keys). The cause",
                    name = remote.name
                )
            })
        }
    }
}

/// Prints the settings, secrets included, on stdout, or writes them to `output` atomically
/// with mode 0600; says where they went.
fn hand_over(
    out: Output,
    name: &str,
    settings: &Value,
    output: Option<&Path>,
) -> anyhow::Result<String> {
    match output {
        None => {
            out.json_value(settings)?;
            Ok("printed on stdout".to_owned())
        }
        Some(path) => {
            let text = serde_json::to_string_pretty(settings)? + "\n";
            write_private(path, text.as_bytes())
                .context("writing the settings with the new keys")?;
            out.note(&format!(
                "Wrote the settings of remote {name}, with its secret keys, to {} (mode 0600).",
                path.display()
            ));
            Ok(format!("in {}", path.display()))
        }
    }
}

/// Tells whether a removal found something to remove.
fn report(out: Output, removal: Removal, what: &str) {
    out.note(&match removal {
        Removal::Removed => format!("Deleted {what}."),
        Removal::AlreadyAbsent => format!("Note: {what} was already absent; nothing to do."),
    });
}

/// The admin session: the standard AWS chain with the flags on top.
async fn session(aws: AwsArgs) -> dpipe_provision::Result<AdminSession> {
    AdminSession::load(SessionOptions {
        endpoint_url: aws.endpoint_url,
        region: aws.region,
        credentials: None,
    })
    .await
}

/// Runs one provisioning call to its end.
fn block_on<T>(future: impl Future<Output = dpipe_provision::Result<T>>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(future)?)
}
