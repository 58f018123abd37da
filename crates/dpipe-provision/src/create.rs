//! `create_bucket_with_users`: the bucket, its read and write users with their inline
//! policies, one fresh access key each — idempotently, and all or nothing as far as keys go.
//!
//! Order matters. Everything that needs no key (bucket, users, policies) is made first, so a
//! failure there leaves existing keys alone. Then each user's keys are rotated: old keys
//! deleted, one new key created. If anything fails, everything this run created is undone
//! (its keys, its users, its bucket), so no user is left holding a key nobody recorded, and
//! the caller, which stores the remote only on success, records nothing.

use crate::buckets::ensure_bucket;
use crate::error::{Result, aws};
use crate::names::RemoteNames;
use crate::policy::PolicyDocument;
use crate::remote::{AccessKeyPair, ProvisionedRemote, RemoteSettings, SplitCredentials};
use crate::session::AdminSession;
use crate::users::{
    create_key, delete_bare_user, delete_key, delete_keys, ensure_user, put_policy,
};

/// Creates (or brings up to date) the S3 bucket `dpipe-NAME` with the IAM users
/// `dpipe-NAME-read` and `dpipe-NAME-write`, their least-privilege inline policies and one new
/// access key each, and returns the remote settings to store.
///
/// Running it again for the same NAME reuses bucket, users and policies and rotates the keys:
/// the previous keys stop working and each user holds exactly one key, the returned one.
/// NAME is checked before any AWS call. On error, the keys, users and bucket this run created
/// are deleted again before the error is returned (a failure of that cleanup is added to the
/// error's message).
pub async fn create_bucket_with_users(
    session: &AdminSession,
    name: &str,
) -> Result<ProvisionedRemote> {
    let names = RemoteNames::new(name)?;
    let mut created = Created::default();
    match provision(session, &names, &mut created).await {
        Ok(credentials) => Ok(ProvisionedRemote {
            name: names.remote,
            protocol: "s3",
            location: names.bucket,
            credentials,
            settings: session.region_is_custom().then(|| RemoteSettings {
                endpoint: session.endpoint_url().map(str::to_owned),
                region: session.region().to_owned(),
            }),
        }),
        Err(err) => match created.undo(session).await {
            Ok(()) => Err(err),
            Err(cleanup) => Err(err.with_note(&format!(
                "cleaning up after it failed too, remove the leftovers with delete_user / \
                 delete_bucket: {cleanup}"
            ))),
        },
    }
}

/// What one run created, newest last: exactly what [`Created::undo`] removes.
#[derive(Default)]
struct Created {
    bucket: Option<String>,
    /// Users made by this run.
    users: Vec<String>,
    /// (user, access key id) of every key made by this run.
    keys: Vec<(String, String)>,
}

impl Created {
    /// Deletes keys, then users, then the bucket made by this run; keeps going after a
    /// failure so as much as possible is removed, and reports the first failure.
    async fn undo(self, session: &AdminSession) -> Result<()> {
        let mut first_failure = Ok(());
        for (user, id) in self.keys.iter().rev() {
            keep_first(&mut first_failure, delete_key(session, user, id).await);
        }
        for user in self.users.iter().rev() {
            keep_first(&mut first_failure, delete_bare_user(session, user).await);
        }
        if let Some(bucket) = &self.bucket {
            // Just created and not yet handed to anybody, so it is empty.
            let deleted = session.s3().delete_bucket().bucket(bucket).send().await;
            keep_first(
                &mut first_failure,
                deleted
                    .map(drop)
                    .map_err(|e| aws("DeleteBucket", bucket, e)),
            );
        }
        first_failure
    }
}

fn keep_first(first: &mut Result<()>, next: Result<()>) {
    if first.is_ok() {
        *first = next;
    }
}

async fn provision(
    session: &AdminSession,
    names: &RemoteNames,
    created: &mut Created,
) -> Result<SplitCredentials> {
    if ensure_bucket(session, &names.bucket).await? {
        created.bucket = Some(names.bucket.clone());
    }
    let users = [
        (&names.read_user, PolicyDocument::read(&names.bucket)),
        (&names.write_user, PolicyDocument::write(&names.bucket)),
    ];
    for (user, policy) in &users {
        if ensure_user(session, user).await? {
            created.users.push(user.to_string());
        }
        put_policy(session, user, policy).await?;
    }
    let read = rotate_key(session, &names.read_user, created).await?;
    let write = rotate_key(session, &names.write_user, created).await?;
    Ok(SplitCredentials { read, write })
}

/// Leaves `user` with exactly one key, a new one. A user this run created has none to delete.
async fn rotate_key(
    session: &AdminSession,
    user: &str,
    created: &mut Created,
) -> Result<AccessKeyPair> {
    if !created.users.iter().any(|u| u == user) {
        delete_keys(session, user).await?;
    }
    let key = create_key(session, user).await?;
    created
        .keys
        .push((user.to_owned(), key.aws_access_key_id.clone()));
    Ok(key)
}
