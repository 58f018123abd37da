//! The arguments of `dpipe verify`, and what its help says of the classes it reports, its
//! exit codes and its JSON.

use clap::Args;

use super::pipe_arg::PipeArg;

/// What `dpipe verify --help` says after the flags.
const VERIFY_HELP: &str = "\
Each recorded file is read afresh (not through the hash cache, so that bit rot or a change that
kept size and time is caught) and reported as:
    changed         its content hashes differently than at the last sync
    missing         recorded, not on disk
    remote differs  (--remote) the object's checksum, or size, differs from the record
    remote missing  (--remote) recorded, no object in the storage
    unrecorded      on disk within the pipe's include/exclude, never synced: listed only, the
                    exit code does not count it (`dpipe status` says what a push would send)
--remote compares by the checksum the storage keeps: dpipe's SHA-256 stored with multipart
uploads, else the ETag (MD5) of a single-part S3 upload; storage that keeps none (fs, FTP,
SFTP), and objects without one, are compared by size. Nothing is downloaded.

Exit codes: 0 every recorded file as recorded (also when nothing is recorded yet: a pipe never
pulled or pushed into this file repo says so), 1 something differs, 2 usage, 3 pipe not found,
4/5 the storage refused or could not be reached (--remote).

--json prints one object:
    {\"pipe\": \"p\", \"verified\": 3, \"ok\": 1,
     \"changed\": [{\"path\": \"a.csv\", \"by\": \"sha256\", \"expected\": \"<hex>\", \"found\": \"<hex>\"}],
     \"missing\": [{\"path\": \"b.csv\", \"by\": \"sha256\", \"expected\": \"<hex>\", \"found\": null}],
     \"unrecorded\": [{\"path\": \"c.csv\", \"size\": 12}],
     \"remote\": {\"checksums\": true, \"by_size\": 0, \"differs\": [...], \"missing\": [...]}}
`verified` counts the recorded files, `ok` those found as recorded; `by` is sha256, md5 or
size (then `expected` and `found` are byte counts); `remote` is null without --remote.";

/// `dpipe verify`.
#[derive(Args)]
#[command(after_help = VERIFY_HELP)]
pub struct VerifyArgs {
    /// The pipe.
    #[command(flatten)]
    pub pipe: PipeArg,
    /// Also compare each recorded file with its object in the storage, by the checksum the
    /// storage keeps, else by size (uses the pipe's read credentials; downloads nothing).
    #[arg(long)]
    pub remote: bool,
}
