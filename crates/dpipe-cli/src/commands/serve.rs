//! `dpipe serve`: runs the repo API server (crate `dpipe-server`) and, by default, the
//! built-in object store of managed pipes, until Ctrl-C or SIGTERM,
//! logging to stderr (`RUST_LOG` sets the level); `dpipe serve rotate-key [--finish]` re-seals
//! the stored credentials with a new key.

use std::path::PathBuf;

use dpipe_server::{DataDirOptions, RotationStep, StorageKind, StorageOptions};

use crate::cli::serve::{
    ManagedStorageArgs, RotateKeyArgs, ServeArgs, ServeCommand, ServerDataArgs,
};
use crate::output::Output;

/// Starts the server on a Tokio runtime and waits for it to stop, or runs a maintenance
/// command.
pub fn run(args: ServeArgs, out: &Output) -> anyhow::Result<()> {
    dpipe_server::init_logging();
    if let Some(ServeCommand::RotateKey(rotate)) = args.command {
        return rotate_key(rotate, out);
    }
    let (data_dir, data) = locations(args.data);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(dpipe_server::run(dpipe_server::ServeOptions {
        listen: args.listen,
        data_dir,
        data,
        storage: storage_options(*args.storage),
        smtp_url: args.smtp_url,
    }))?;
    Ok(())
}

/// The managed storage the flags ask for: the built-in object store unless `--no-storage` or
/// `--external-storage`.
fn storage_options(args: ManagedStorageArgs) -> StorageOptions {
    let kind = if args.no_storage {
        StorageKind::Off
    } else if args.external_storage {
        StorageKind::External {
            endpoint: args.external_endpoint,
            region: args.external_region,
            role_arn: args.external_role_arn,
        }
    } else {
        StorageKind::BuiltIn {
            listen: args.storage_listen,
            url: args.storage_url,
        }
    };
    StorageOptions {
        bucket: args.managed_bucket,
        key_lifetime: args.key_lifetime,
        kind,
    }
}

/// `dpipe serve rotate-key [--finish]`.
fn rotate_key(args: RotateKeyArgs, out: &Output) -> anyhow::Result<()> {
    let shared = args.data.database_url.is_some();
    let (data_dir, data) = locations(args.data);
    let step = if args.finish {
        RotationStep::Finish
    } else {
        RotationStep::Start
    };
    let count = dpipe_server::rotate_key(&data_dir, &data, step)?;
    out.note(&match (step, shared) {
        (RotationStep::Start, false) => format!(
            "Sealed the stored credentials of {} with a new key ({count} re-sealed); the old key is gone.",
            data_dir.display()
        ),
        (RotationStep::Start, true) => format!(
            "Sealed the stored credentials with a new key ({count} re-sealed). Give every server the new key ring, then run `dpipe serve rotate-key --finish` to drop the old key."
        ),
        (RotationStep::Finish, _) => format!(
            "Dropped the old credentials keys ({count} value(s) re-sealed first)."
        ),
    });
    Ok(())
}

/// The data folder (default: the user's data folder) and where keys and database are when
/// not in it.
fn locations(data: ServerDataArgs) -> (PathBuf, DataDirOptions) {
    (
        data.data_dir.unwrap_or_else(dpipe_server::default_data_dir),
        DataDirOptions {
            credentials_key_file: data.credentials_key_file,
            server_key_file: data.server_key_file,
            database_url: data.database_url,
        },
    )
}
