//! The arguments of `dpipe s3 ...`: provisioning d6tpipe-compatible S3 buckets with a read and
//! a write user (crate `dpipe-provision`), and removing them.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Where the AWS admin identity comes from, shown under every `dpipe s3` command's help.
const AWS_HELP: &str = "\
AWS admin identity:
  The AWS credentials come from the standard AWS chain: AWS_ACCESS_KEY_ID and
  AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or AWS_PROFILE with ~/.aws/config and
  ~/.aws/credentials, web identity, container or instance metadata. The region comes from
  --region, AWS_REGION or the profile. The identity needs the admin policy of
  docs/s3-provisioning.md (IAM users and S3 buckets named dpipe-*).";

/// `dpipe s3 ...`.
#[derive(Subcommand)]
pub enum S3Command {
    /// Create the bucket dpipe-NAME with the IAM users dpipe-NAME-read and dpipe-NAME-write
    /// (least-privilege inline policies, one new access key each) and print the remote
    /// settings with their keys as JSON, or store them as remote NAME (--upsert-remote).
    ///
    /// Running it again for the same NAME keeps the bucket and users and rotates the keys:
    /// the previous keys stop working. If it fails, whatever it created is removed again.
    #[command(after_help = AWS_HELP)]
    CreateBucketWithUsers(CreateArgs),
    /// Delete the bucket BUCKET (dpipe-... only). A bucket that does not exist is a success.
    #[command(after_help = AWS_HELP)]
    DeleteBucket {
        /// The bucket, dpipe-NAME.
        bucket: String,
        /// Also delete the objects in it (without: a bucket holding objects is refused).
        #[arg(long)]
        force: bool,
        /// Where AWS is.
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Delete the IAM user USER (dpipe-... only) with its access keys and inline policies. A
    /// user that does not exist is a success.
    #[command(after_help = AWS_HELP)]
    DeleteUser {
        /// The user, dpipe-NAME-read or dpipe-NAME-write.
        user: String,
        /// Where AWS is.
        #[command(flatten)]
        aws: AwsArgs,
    },
}

/// `dpipe s3 create-bucket-with-users`.
#[derive(Args)]
pub struct CreateArgs {
    /// The remote name: lowercase letters, digits and inner hyphens, at most 52 characters.
    pub name: String,
    /// Store the settings as remote NAME through the profile (server or local mode) and print
    /// only the remote as the repo API shows it, without secrets.
    #[arg(long)]
    pub upsert_remote: bool,
    /// Write the settings, with the secret keys, to FILE (atomically, mode 0600) instead of
    /// stdout; `dpipe remote upsert --file FILE` stores them later.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Encrypt the keys (and endpoint and region) with the profile's encryption key before
    /// they are printed, written or stored.
    #[arg(long)]
    pub encrypt: bool,
    /// Where AWS is.
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Where AWS is, beyond the standard AWS configuration.
#[derive(Args)]
pub struct AwsArgs {
    /// An S3 and IAM endpoint instead of AWS's (an S3-compatible service, a local moto); it
    /// goes into the remote's settings.
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The AWS region (default: AWS_REGION or the AWS profile's).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}
