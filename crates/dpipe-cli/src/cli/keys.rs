//! The arguments of client-side encryption: `dpipe key ...` (the profile's encryption key)
//! and `dpipe encode` / `dpipe decode` (a settings file entry, encrypted or decrypted).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use dpipe_client::encode::ResourceKind;

/// `dpipe key ...`.
#[derive(Subcommand)]
pub enum KeyCommand {
    /// Print the profile's encryption key, e.g. to give it to your team: whoever holds it can
    /// decrypt every credential you encrypted. A profile without a key exits with code 3.
    Show,
    /// Make KEY the profile's encryption key (a key another profile's `dpipe key show`
    /// printed). The old key is kept for decrypting until `dpipe key rotate` re-encrypts.
    Set {
        /// The key: 43 characters of base64url (it may start with `-`).
        #[arg(allow_hyphen_values = true)]
        key: String,
    },
    /// Make a new key and re-encrypt with it everything you own that is encrypted (remotes,
    /// and pipes with their own storage), then forget the old key. Safe to interrupt: run it
    /// again to finish.
    Rotate,
}

/// `dpipe encode` and `dpipe decode`.
#[derive(Args)]
pub struct CodecArgs {
    /// A JSON or YAML file of named settings entries.
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
    /// The entry of --file to use.
    #[arg(long, value_name = "NAME")]
    pub key: Option<String>,
    /// What the entry is the settings of: encrypted values only decrypt for the kind and name
    /// they were encrypted for.
    #[arg(
        long = "for",
        value_enum,
        default_value = "remote",
        value_name = "KIND"
    )]
    pub kind: KindArg,
    /// Write the JSON to this file (mode 0600) instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// The kinds of resource settings belong to.
#[derive(Clone, Copy, ValueEnum)]
pub enum KindArg {
    /// A remote.
    Remote,
    /// A pipe with its own storage.
    Pipe,
}

impl From<KindArg> for ResourceKind {
    fn from(kind: KindArg) -> ResourceKind {
        match kind {
            KindArg::Remote => ResourceKind::Remote,
            KindArg::Pipe => ResourceKind::Pipe,
        }
    }
}
