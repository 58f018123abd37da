//! IAM users of a bucket: make sure one exists, give it its inline policy, rotate its access
//! key, delete it with everything attached. Every AWS error is translated here.

use crate::error::{Error, ErrorKind, Result, aws, missing};
use crate::names::check_user;
use crate::policy::PolicyDocument;
use crate::remote::AccessKeyPair;
use crate::session::AdminSession;

/// Whether a removal found something to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// It existed and is gone now.
    Removed,
    /// It did not exist; nothing was done.
    AlreadyAbsent,
}

/// Makes sure `user` exists; `true` when this call created it.
pub(crate) async fn ensure_user(session: &AdminSession, user: &str) -> Result<bool> {
    match session.iam().get_user().user_name(user).send().await {
        Ok(_) => return Ok(false),
        Err(err) => {
            let err = aws("GetUser", user, err);
            if err.kind() != ErrorKind::NotFound {
                return Err(err);
            }
        }
    }
    match session.iam().create_user().user_name(user).send().await {
        Ok(_) => Ok(true),
        // Created concurrently by someone else: it is not ours to roll back.
        Err(err) => match aws("CreateUser", user, err) {
            err if err.kind() == ErrorKind::Conflict => Ok(false),
            err => Err(err),
        },
    }
}

/// Sets the inline policy of `user`, named after the user (one policy per user, replaced on
/// every run).
pub(crate) async fn put_policy(
    session: &AdminSession,
    user: &str,
    policy: &PolicyDocument,
) -> Result<()> {
    session
        .iam()
        .put_user_policy()
        .user_name(user)
        .policy_name(user)
        .policy_document(policy.to_json())
        .send()
        .await
        .map_err(|e| aws("PutUserPolicy", user, e))?;
    Ok(())
}

/// Deletes every access key of `user`.
pub(crate) async fn delete_keys(session: &AdminSession, user: &str) -> Result<()> {
    let listed = session
        .iam()
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .map_err(|e| aws("ListAccessKeys", user, e))?;
    // A user has at most two keys, so the first page holds them all.
    for key in listed.access_key_metadata() {
        let id = key
            .access_key_id()
            .ok_or_else(|| missing("ListAccessKeys", user, "a key id"))?;
        delete_key(session, user, id).await?;
    }
    Ok(())
}

/// Creates an access key for `user`.
pub(crate) async fn create_key(session: &AdminSession, user: &str) -> Result<AccessKeyPair> {
    let created = session
        .iam()
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .map_err(|e| aws("CreateAccessKey", user, e))?;
    let key = created
        .access_key()
        .ok_or_else(|| missing("CreateAccessKey", user, "a key"))?;
    Ok(AccessKeyPair::new(
        key.access_key_id(),
        key.secret_access_key(),
    ))
}

/// Deletes the access key `id` of `user`.
pub(crate) async fn delete_key(session: &AdminSession, user: &str, id: &str) -> Result<()> {
    session
        .iam()
        .delete_access_key()
        .user_name(user)
        .access_key_id(id)
        .send()
        .await
        .map_err(|e| aws("DeleteAccessKey", user, e))?;
    Ok(())
}

/// Deletes the inline policy of `user`, then `user`: the rollback of [`ensure_user`] plus
/// [`put_policy`] for a user without keys.
pub(crate) async fn delete_bare_user(session: &AdminSession, user: &str) -> Result<()> {
    let deleted = session
        .iam()
        .delete_user_policy()
        .user_name(user)
        .policy_name(user)
        .send()
        .await;
    match deleted.map_err(|e| aws("DeleteUserPolicy", user, e)) {
        Err(err) if err.kind() != ErrorKind::NotFound => return Err(err),
        _ => {}
    }
    session
        .iam()
        .delete_user()
        .user_name(user)
        .send()
        .await
        .map_err(|e| aws("DeleteUser", user, e))?;
    Ok(())
}

/// Deletes the IAM user `user` (`dpipe-…` only): its access keys, its inline policies, then
/// the user. A user that does not exist is a success ([`Removal::AlreadyAbsent`]), so
/// removal can be re-run. Attached managed policies or groups (dpipe adds none) make AWS
/// refuse the deletion.
pub async fn delete_user(session: &AdminSession, user: &str) -> Result<Removal> {
    check_user(user)?;
    match delete_keys(session, user).await {
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Removal::AlreadyAbsent),
        other => other?,
    }
    // Collect every page first: deleting while paging could shift the markers.
    let mut policies = Vec::new();
    let mut pages = session
        .iam()
        .list_user_policies()
        .user_name(user)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws("ListUserPolicies", user, e))?;
        policies.extend(page.policy_names().iter().cloned());
    }
    for policy in &policies {
        session
            .iam()
            .delete_user_policy()
            .user_name(user)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| aws("DeleteUserPolicy", user, e))?;
    }
    match session.iam().delete_user().user_name(user).send().await {
        Ok(_) => Ok(Removal::Removed),
        Err(err) => match aws("DeleteUser", user, err) {
            // Deleted concurrently: the end state is the one asked for.
            err if err.kind() == ErrorKind::NotFound => Ok(Removal::AlreadyAbsent),
            err => Err(conflict_hint(err)),
        },
    }
}

/// AWS's `DeleteConflict` names no remedy; say what to detach.
fn conflict_hint(err: Error) -> Error {
    if err.code() == Some("DeleteConflict") {
        err.with_note("detach its managed policies, groups, login profile and MFA devices first")
    } else {
        err
    }
}
