//! `dpipe serve`: runs the repo API server (crate `dpipe-server`) and, by default, the
//! built-in object store of managed pipes, until Ctrl-C or SIGTERM,
//! logging to stderr (`RUST_LOG` sets the level); `dpipe serve rotate-key` re-seals the stored
//! credentials of a stopped server with a new key.

use std::path::PathBuf;

use dpipe_server::{StorageKind, StorageOptions};

use crate::cli::serve::{ManagedStorageArgs, ServeArgs, ServeCommand, ServerDataArgs};
use crate::output::Output;

/// Starts the server on a Tokio runtime and waits for it to stop, or runs a maintenance
/// command.
pub fn run(args: ServeArgs, out: &Output) -> anyhow::Result<()> {
    dpipe_server::init_logging();
    if let Some(ServeCommand::RotateKey(data)) = args.command {
        let (data_dir, key_file) = locations(data);
        let count = dpipe_server::rotate_key(&data_dir, key_file.as_deref())?;
        out.note(&format!(
            "Sealed the stored credentials of {} with a new key ({count} re-sealed); the old key is gone.",
            data_dir.display()
        ));
        return Ok(());
    }
    let (data_dir, credentials_key_file) = locations(args.data);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(dpipe_server::run(dpipe_server::ServeOptions {
        listen: args.listen,
        data_dir,
        credentials_key_file,
        storage: storage_options(args.storage),
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

/// The data folder (default: the user's data folder) and the key ring file, if given.
fn locations(data: ServerDataArgs) -> (PathBuf, Option<PathBuf>) {
    (
        data.data_dir.unwrap_or_else(dpipe_server::default_data_dir),
        data.credentials_key_file,
    )
}
