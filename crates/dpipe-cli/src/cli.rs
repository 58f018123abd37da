//! The command line as clap sees it: global flags, the command tree and each command's
//! arguments. Nothing here touches a profile or the network; `settings` resolves these
//! arguments and `commands` acts on them. No type here derives `Debug`: several hold a
//! password, a token or credentials.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::Value;

use crate::exit::EXIT_CODES_HELP;
use apply::ApplyArgs;
use pipe_arg::PipeArg;

pub mod apply;
pub mod keys;
pub mod maintain;
pub mod pipe_arg;
pub mod s3;
pub mod scan;
pub mod serve;
pub mod sync;
pub mod verify;

/// Exchange data files the way git exchanges code: pipes on your own storage, a repo API that
/// remembers where they live and who may use them.
#[derive(Parser)]
#[command(name = "dpipe", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Args)]
pub struct GlobalArgs {
    /// The profile to use (default: the config file's default profile).
    #[arg(long, global = true, env = "DPIPE_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// Print what the repo API returned as JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The commands.
#[derive(Subcommand)]
pub enum Command {
    /// Run a repo API server.
    Serve(serve::ServeArgs),
    /// Manage profiles (server URL or local mode, token, file folder).
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Create an account on the profile's server and save its token.
    Register(RegisterArgs),
    /// Log in to the profile's server and save the token.
    Login(LoginArgs),
    /// Remove the token from the profile.
    Logout,
    /// Show who the profile acts as.
    Whoami,
    /// Set or show the profile's API token.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage remotes: named storage locations with their credentials.
    #[command(subcommand)]
    Remote(RemoteCommand),
    /// Manage pipes: named datasets on a remote or a parent pipe.
    #[command(subcommand)]
    Pipe(PipeCommand),
    /// Manage who may read or write a pipe.
    #[command(subcommand)]
    Perm(PermCommand),
    /// Show a pipe's audit trail: who fetched its credentials, changed its grants or settings.
    Audit(AuditArgs),
    /// Show, set or rotate the profile's encryption key (client-side encryption).
    #[command(subcommand)]
    Key(keys::KeyCommand),
    /// Print a settings file entry with its secrets encrypted with the profile's key.
    Encode(keys::CodecArgs),
    /// Print a settings file entry with its encrypted values decrypted.
    Decode(keys::CodecArgs),
    /// Create S3 buckets with a read and a write IAM user for remotes, and remove them.
    #[command(subcommand)]
    S3(s3::S3Command),
    /// Download a pipe's new and changed files into its folder of the file repo.
    Pull(sync::SyncArgs),
    /// Upload the new and changed files of a pipe's folder to its storage.
    Push(sync::SyncArgs),
    /// Show what differs between a pipe's folder and its storage.
    Status(sync::StatusArgs),
    /// List the files of a pipe on one side: its storage (remote) or its folder (local).
    #[command(subcommand)]
    Scan(scan::ScanCommand),
    /// Re-read a pipe's files and compare them with the hashes recorded at the last sync.
    Verify(verify::VerifyArgs),
    #[command(flatten)]
    Maintain(maintain::MaintainCommand),
    /// Print the completion script of a shell, e.g. `dpipe completions bash >
    /// ~/.local/share/bash-completion/completions/dpipe`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `dpipe profile ...`.
#[derive(Subcommand)]
pub enum ProfileCommand {
    /// List the profiles.
    List,
    /// Show one profile (default: the selected one). Never shows the token.
    Show {
        /// The profile to show.
        name: Option<String>,
    },
    /// Create a profile.
    Init(ProfileInitArgs),
    /// Change a setting of the selected profile: server, mode, repo, username, email, db; or
    /// `default NAME` to make NAME the default profile.
    Set {
        /// The setting.
        #[arg(value_parser = ["server", "mode", "repo", "username", "email", "db", "default"])]
        key: String,
        /// Its new value.
        value: String,
    },
}

/// `dpipe profile init`.
#[derive(Args)]
#[command(group = clap::ArgGroup::new("backend").required(true).args(["server", "local"]))]
pub struct ProfileInitArgs {
    /// The new profile's name.
    pub name: String,
    /// The repo API server's URL.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Local mode: no server, a local database.
    #[arg(long)]
    pub local: bool,
    /// The central file folder (default: ~/dpipe/files/NAME).
    #[arg(long, value_name = "DIR")]
    pub repo: Option<String>,
    /// Local mode's SQLite file (default: <data folder>/dpipe/local/NAME.sqlite); only with
    /// --local.
    #[arg(long, value_name = "PATH", conflicts_with = "server")]
    pub db: Option<String>,
    /// Make it the default profile (the first profile always is).
    #[arg(long)]
    pub default: bool,
}

/// The environment variable that can hold the password of `register` and `login`.
pub const PASSWORD_ENV: &str = "DPIPE_PASSWORD";

/// How a password reaches an account command.
#[derive(Args)]
pub struct PasswordArgs {
    /// The password (default: $DPIPE_PASSWORD, else asked on the terminal).
    #[arg(long, env = PASSWORD_ENV, hide_env_values = true)]
    pub password: Option<String>,
}

/// `dpipe register`.
#[derive(Args)]
pub struct RegisterArgs {
    /// The new account's username.
    #[arg(long)]
    pub username: String,
    /// The new account's email.
    #[arg(long)]
    pub email: String,
    /// The password.
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// `dpipe login`.
#[derive(Args)]
pub struct LoginArgs {
    /// The account's username.
    #[arg(long)]
    pub username: String,
    /// The password.
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// `dpipe token ...`.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Save an API token in the profile.
    Set {
        /// The token.
        token: String,
    },
    /// Print the profile's API token.
    Get,
}

/// `dpipe remote ...`.
#[derive(Subcommand)]
pub enum RemoteCommand {
    /// Create a remote, or update the one of that name.
    Upsert(Box<StorageArgs>),
    /// List your remotes.
    List,
    /// Show one remote (never its credentials).
    Show {
        /// The remote.
        name: String,
    },
    /// Delete a remote no pipe uses (dry run unless --apply).
    Delete {
        /// The remote.
        name: String,
        /// Whether to delete or only show the remote.
        #[command(flatten)]
        apply: ApplyArgs,
    },
}

/// `dpipe pipe ...`.
#[derive(Subcommand)]
pub enum PipeCommand {
    /// Create a pipe (fails if it exists).
    Create(Box<PipeArgs>),
    /// Create a pipe, or update the one of that name.
    Upsert(Box<PipeArgs>),
    /// List the pipes you can read.
    List,
    /// Show one pipe.
    Show {
        /// The pipe.
        #[command(flatten)]
        pipe: PipeArg,
    },
    /// Print the pipe's storage credentials (decrypted with the profile's key when they are
    /// encrypted).
    Credentials {
        /// The pipe.
        #[command(flatten)]
        pipe: PipeArg,
        /// The credentials for writing instead of reading.
        #[arg(long)]
        write: bool,
    },
    /// Delete a pipe with its children (files in storage are left alone; dry run unless
    /// --apply).
    Delete {
        /// The pipe.
        #[command(flatten)]
        pipe: PipeArg,
        /// Whether to delete or only show what would go.
        #[command(flatten)]
        apply: ApplyArgs,
    },
}

/// The settings of a remote or pipe: from `--file` (one entry, picked with `--key`), then the
/// flags laid over it.
#[derive(Args)]
pub struct StorageArgs {
    /// Name (default: the file entry's name or key).
    #[arg(long)]
    pub name: Option<String>,
    /// The name, given as an argument instead of --name.
    #[arg(value_name = "NAME", conflicts_with = "name")]
    pub name_argument: Option<String>,
    /// Storage protocol: s3, ftp, sftp or fs.
    #[arg(long)]
    pub protocol: Option<String>,
    /// Bucket, `host[:port]` or absolute folder.
    #[arg(long)]
    pub location: Option<String>,
    /// Sub-folder (a remote's `settings.dir`, a pipe's `options.dir`).
    #[arg(long)]
    pub dir: Option<String>,
    /// A storage setting such as endpoint=URL or region=NAME (repeatable).
    #[arg(long = "setting", value_name = "KEY=VALUE", value_parser = key_value)]
    pub settings: Vec<(String, String)>,
    /// A credential for both reading and writing (repeatable). Prefer --file: the command
    /// line lands in shell history.
    #[arg(long = "credential", value_name = "KEY=VALUE", value_parser = key_value, conflicts_with_all = ["read_credentials", "write_credentials"])]
    pub credentials: Vec<(String, String)>,
    /// A credential used only for reading (repeatable; give --write-credential too).
    #[arg(long = "read-credential", value_name = "KEY=VALUE", value_parser = key_value)]
    pub read_credentials: Vec<(String, String)>,
    /// A credential used only for writing (repeatable; give --read-credential too).
    #[arg(long = "write-credential", value_name = "KEY=VALUE", value_parser = key_value)]
    pub write_credentials: Vec<(String, String)>,
    /// Free JSON object for readers, e.g. '{"pandas": {"sep": ","}}'.
    #[arg(long, value_name = "JSON", value_parser = json_object)]
    pub schema: Option<Value>,
    /// A JSON or YAML file of named settings entries.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// The entry of --file to use.
    #[arg(long, value_name = "NAME", requires = "file")]
    pub key: Option<String>,
    /// Encrypt the credentials and settings (except `dir`) with the profile's key before
    /// sending them; the repo API then stores what it cannot read.
    #[arg(long)]
    pub encrypt: bool,
}

/// A pipe's settings: storage settings plus where the pipe hangs and which files it holds.
#[derive(Args)]
pub struct PipeArgs {
    /// Storage and file settings.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Use this remote's storage.
    #[arg(long, value_name = "NAME", conflicts_with = "parent")]
    pub remote: Option<String>,
    /// Make it a child of this pipe (inheriting its storage).
    #[arg(long, value_name = "PIPE")]
    pub parent: Option<String>,
    /// Only files matching these globs, separated by '|'.
    #[arg(long, value_name = "GLOBS")]
    pub include: Option<String>,
    /// Leave out files matching these globs, separated by '|'.
    #[arg(long, value_name = "GLOBS")]
    pub exclude: Option<String>,
}

/// `dpipe audit`.
#[derive(Args)]
pub struct AuditArgs {
    /// The pipe (its descendants' events are included); you must own it.
    #[command(flatten)]
    pub pipe: PipeArg,
    /// Only events since WHEN: a date (YYYY-MM-DD, UTC), an RFC 3339 instant, or a time ago
    /// such as 30m, 2h, 3d or 1w.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only events of this user.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Only events of this action.
    #[arg(long, value_name = "ACTION",
          value_parser = clap::builder::PossibleValuesParser::new(dpipe_client::audit::PIPE_ACTIONS))]
    pub action: Option<String>,
}

/// `dpipe perm ...`.
#[derive(Subcommand)]
pub enum PermCommand {
    /// Give (or change) access to a pipe.
    Grant {
        /// The pipe.
        #[command(flatten)]
        pipe: PipeArg,
        /// Who.
        #[command(flatten)]
        grantee: GranteeArgs,
        /// The access given.
        #[arg(long)]
        role: GrantRole,
        /// Last day of access.
        #[arg(long, value_name = "YYYY-MM-DD")]
        expires: Option<String>,
    },
    /// Take access away.
    Revoke {
        /// The pipe.
        #[command(flatten)]
        pipe: PipeArg,
        /// Who.
        #[command(flatten)]
        grantee: GranteeArgs,
    },
    /// List the grants on a pipe, with the invitations still waiting.
    List {
        /// The pipe.
        #[command(flatten)]
        pipe: PipeArg,
    },
    /// Confirm that the account registered with an invited email is the one you invited:
    /// it gets the invitation's access.
    Confirm {
        /// The pipe.
        #[command(flatten)]
        pipe: PipeArg,
        /// The invited email address.
        #[arg(long)]
        email: String,
    },
}

/// Exactly one grantee.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct GranteeArgs {
    /// A registered user.
    #[arg(long)]
    pub user: Option<String>,
    /// An email address: its account at once, or an invitation that whoever registers with it
    /// claims once you confirm them (`perm confirm`) or they follow the mailed link.
    #[arg(long)]
    pub email: Option<String>,
    /// Everybody (read only).
    #[arg(long)]
    pub public: bool,
}

/// The roles a grant can give.
#[derive(Clone, Copy, ValueEnum)]
pub enum GrantRole {
    /// List and download.
    Read,
    /// Also upload and delete files.
    Write,
    /// Also change settings and permissions.
    Admin,
}

impl GrantRole {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantRole::Read => "read",
            GrantRole::Write => "write",
            GrantRole::Admin => "admin",
        }
    }
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

fn json_object(text: &str) -> Result<Value, String> {
    match serde_json::from_str(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err("expected a JSON object".to_string()),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}
