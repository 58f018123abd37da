//! `dpipe serve`: runs the repo API server (crate `dpipe-server`) until Ctrl-C or SIGTERM,
//! logging to stderr (`RUST_LOG` sets the level).

use crate::cli::ServeArgs;

/// Starts the server on a Tokio runtime and waits for it to stop.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    dpipe_server::init_logging();
    let data_dir = args.data_dir.unwrap_or_else(dpipe_server::default_data_dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(dpipe_server::run(dpipe_server::ServeOptions {
        listen: args.listen,
        data_dir,
    }))?;
    Ok(())
}
