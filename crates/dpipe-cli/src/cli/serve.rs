//! The arguments of `dpipe serve`: where the repo API listens and keeps its data, and the
//! managed storage it provides for pipes created with a name only — the built-in object store
//! (the default), an external S3 bucket with STS credentials, or none.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

/// How managed storage works, shown under `dpipe serve --help`.
const MANAGED_HELP: &str = "\
Managed storage:
  A pipe created with a name only (d6tpipe's d6tfree) keeps its files in the server's
  managed bucket under <owner>/<pipe>/. By default the server runs its own S3-compatible
  object store over <data-dir>/storage on --storage-listen, and the credentials endpoint
  hands out keys that reach one pipe's folder with the caller's role, for --key-lifetime at
  most and never past the grant's expiry. With --external-storage the bucket is on another
  S3 (AWS, MinIO, ...) and the keys are STS credentials limited by a session policy; the
  identity calling STS comes from the standard AWS chain (AWS_ACCESS_KEY_ID, AWS_PROFILE,
  ...). --no-storage turns managed storage off.";

/// `dpipe serve`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, after_help = MANAGED_HELP)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Where the server keeps its data and keys.
    #[command(flatten)]
    pub data: ServerDataArgs,
    /// The storage of managed pipes (boxed: the largest group of flags, and `Command` keeps
    /// its variants of similar size).
    #[command(flatten)]
    pub storage: Box<ManagedStorageArgs>,
    /// The SMTP server that mails invitation links (smtp://HOST[:PORT][?from=ADDRESS], plain
    /// SMTP such as a local relay); without it, an invitation is claimed only when the owner
    /// confirms the account (dpipe perm confirm).
    #[arg(long, value_name = "URL", value_parser = parse_smtp_url)]
    pub smtp_url: Option<String>,
    /// Maintenance of a stopped server's data folder.
    #[command(subcommand)]
    pub command: Option<ServeCommand>,
}

/// Where a server keeps its data and keys.
#[derive(Args)]
pub struct ServerDataArgs {
    /// Folder for the database and the server key (default: the user's data folder).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The credentials key ring file (default: $DPIPE_CREDENTIALS_KEYS, else credentials.key
    /// in the data folder, generated with mode 0600 at first start).
    #[arg(long, value_name = "FILE")]
    pub credentials_key_file: Option<PathBuf>,
    /// The server key file, which must exist (default: server.key in the data folder,
    /// generated at first start). Servers sharing a database need the same key.
    #[arg(long, env = "DPIPE_SERVER_KEY_FILE", value_name = "FILE")]
    pub server_key_file: Option<PathBuf>,
    /// A PostgreSQL database (postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE) instead of
    /// SQLite in the data folder: several servers may share it.
    #[arg(
        long,
        env = "DPIPE_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

/// The storage of managed pipes.
#[derive(Args)]
pub struct ManagedStorageArgs {
    /// Address and port of the built-in object store.
    #[arg(
        long,
        default_value = "127.0.0.1:8001",
        value_name = "ADDR",
        conflicts_with_all = ["no_storage", "external_storage"]
    )]
    pub storage_listen: SocketAddr,
    /// The object store's URL as clients must use it, when not http://<--storage-listen>
    /// (behind a proxy or another host name).
    #[arg(long, env = "DPIPE_STORAGE_URL", value_name = "URL", conflicts_with_all = ["no_storage", "external_storage"])]
    pub storage_url: Option<String>,
    /// No managed storage: no built-in object store, and pipes need their own storage.
    #[arg(long, conflicts_with = "external_storage")]
    pub no_storage: bool,
    /// The managed bucket.
    #[arg(long, default_value = "dpipe", value_name = "NAME")]
    pub managed_bucket: String,
    /// How long managed credentials live at most, e.g. 12h, 90m, 3600s (STS: 15m at least).
    #[arg(long, default_value = "12h", value_name = "DURATION", value_parser = parse_duration)]
    pub key_lifetime: chrono::TimeDelta,
    /// Keep managed pipes' files in --managed-bucket on an external S3 and hand out STS
    /// credentials instead of running the built-in object store.
    #[arg(long)]
    pub external_storage: bool,
    /// The external S3's endpoint (default: AWS).
    #[arg(long, value_name = "URL", requires = "external_storage")]
    pub external_endpoint: Option<String>,
    /// The external S3's region (default: AWS_REGION or the AWS profile's, else us-east-1).
    #[arg(long, value_name = "REGION", requires = "external_storage")]
    pub external_region: Option<String>,
    /// A role to assume for each handout (AssumeRole); without it, GetFederationToken.
    #[arg(long, value_name = "ARN", requires = "external_storage")]
    pub external_role_arn: Option<String>,
}

/// `dpipe serve ...` maintenance commands.
#[derive(Subcommand)]
pub enum ServeCommand {
    /// Seal every stored credential with a new credentials key (on SQLite the server must be
    /// stopped; on PostgreSQL the servers keep running, and --finish drops the old key).
    RotateKey(RotateKeyArgs),
}

/// `dpipe serve rotate-key`.
#[derive(Args)]
pub struct RotateKeyArgs {
    /// Where the server keeps its data and keys.
    #[command(flatten)]
    pub data: ServerDataArgs,
    /// PostgreSQL only, once every server has the new key ring: re-seal what was sealed with
    /// an older key meanwhile, then drop the older keys from the ring file.
    #[arg(long)]
    pub finish: bool,
}

/// Parses `12h`, `90m`, `3600s`, `1d` or a number of seconds into a positive duration.
pub(crate) fn parse_duration(text: &str) -> Result<chrono::TimeDelta, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 12h, 90m or 3600s"))?;
    let seconds = match unit {
        "" | "s" => Some(number),
        "m" => number.checked_mul(60),
        "h" => number.checked_mul(3600),
        "d" => number.checked_mul(86_400),
        _ => None,
    }
    .filter(|s| (1..=366 * 86_400).contains(s))
    .ok_or_else(|| format!("{text:?} is not a duration between 1s and 366d (units: s, m, h, d)"))?;
    Ok(chrono::TimeDelta::seconds(seconds))
}

/// An `--smtp-url` the server's mailer accepts (checked here so that a wrong one is a usage
/// error before anything starts).
fn parse_smtp_url(text: &str) -> Result<String, String> {
    dpipe_server::SmtpMailer::new(text)
        .map(|_| text.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("12h").unwrap().num_seconds(), 43_200);
        assert_eq!(parse_duration("90m").unwrap().num_seconds(), 5_400);
        assert_eq!(parse_duration("3600").unwrap().num_seconds(), 3_600);
        assert_eq!(parse_duration("1d").unwrap().num_seconds(), 86_400);
        for wrong in ["", "h", "12x", "-5m", "0s", "400d", "1.5h"] {
            assert!(parse_duration(wrong).is_err(), "{wrong}");
        }
    }
}
