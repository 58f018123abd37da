//! The registry behaviour suite: every rule of the repo API — resources, validation,
//! inheritance, permissions, credentials — with its wrong calls, written once against the
//! [`Harness`] trait and run against every face of the registry by [`registry_suite!`](crate::registry_suite).
//!
//! Each case asserts the error kind *and* text of a wrong call, and that nothing changed.

pub mod audit;
pub mod credentials;
pub mod inheritance;
pub mod invitations;
pub mod managed;
pub mod permissions;
pub mod pipes;
pub mod remotes;

use std::fmt::Debug;

use dpipe_client::{Error, ErrorKind, RepoApi, Result};
use serde_json::{Value, json};

#[allow(unused_imports)]
use crate::harness::Harness;

/// Expands to one `#[test]` per suite case, each on a fresh harness made by `$make`.
#[macro_export]
macro_rules! registry_suite {
    ($make:expr) => {
        $crate::registry_suite!(@cases $make;
            pipes::pipe_create_and_get,
            pipes::pipe_wrong_creates_change_nothing,
            pipes::pipe_patch_semantics,
            pipes::pipe_put_semantics,
            pipes::pipe_delete_cascades,
            pipes::pipe_remotepath_every_protocol,
            inheritance::child_inherits_storage_and_settings,
            inheritance::child_storage_overrides_refused,
            inheritance::reparenting_rules,
            permissions::permission_sequence_of_the_protocol,
            permissions::rights_matrix,
            permissions::grants_reach_descendants_only,
            invitations::invitation_not_claimed_by_registering,
            invitations::owner_confirms_the_invitation,
            invitations::email_grant_to_an_account_applies_at_once,
            invitations::wrong_confirmations_change_nothing,
            permissions::expiration_follows_the_clock,
            permissions::wrong_grants_change_nothing,
            permissions::public_grants,
            credentials::credentials_flat_and_split,
            credentials::credentials_s3_shape_and_endpoint,
            credentials::credentials_wrong_calls,
            remotes::remote_lifecycle,
            remotes::remote_wrong_calls_change_nothing,
            remotes::remote_ownership,
            audit::audit_lists_exactly_the_credential_fetches,
            audit::audit_is_for_owners_and_covers_descendants,
            audit::audit_holds_no_secret,
            audit::audit_filters_by_time_user_and_action,
            remotes::remote_credentials_for_owner_only,
            managed::managed_pipe_create_and_views,
            managed::managed_pipe_wrong_calls_change_nothing,
            managed::managed_credentials_per_role_and_renewal,
            managed::managed_credentials_audited_and_capped_by_the_grant,
        );
    };
    (@cases $make:expr; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let harness = $make;
                $crate::suite::$module::$case(&harness);
            }
        )*
    };
}

/// Asserts that `result` failed with `kind` and a message (or field) containing `needle`.
pub fn expect_err<T: Debug>(result: Result<T>, kind: ErrorKind, needle: &str) -> Error {
    match result {
        Ok(value) => panic!("expected a {kind:?} error containing {needle:?}, got Ok({value:?})"),
        Err(err) => {
            assert_eq!(
                err.kind(),
                kind,
                "wrong kind for {err}; expected {needle:?}"
            );
            assert!(
                err.message().contains(needle) || err.field() == Some(needle),
                "error {err} does not mention {needle:?}"
            );
            err
        }
    }
}

/// A root S3 pipe with flat credentials.
pub fn s3_pipe(name: &str) -> Value {
    json!({
        "name": name,
        "protocol": "s3",
        "location": "test-bucket",
        "credentials": {"aws_access_key_id": "AKIDFLAT", "aws_secret_access_key": "flat-secret"},
    })
}

/// A child pipe of `parent` in sub-folder `dir`.
pub fn child_pipe(name: &str, parent: &str, dir: &str) -> Value {
    json!({"name": name, "parent": parent, "options": {"dir": dir}})
}

/// The names of the pipes `api` can see, sorted.
pub fn pipe_names(api: &dyn RepoApi) -> Vec<String> {
    let mut names: Vec<String> = api
        .list_pipes()
        .expect("list pipes")
        .into_iter()
        .map(|p| p.name)
        .collect();
    names.sort();
    names
}

/// Everything `api` can see of the pipes, as JSON, to compare before and after a wrong call.
pub fn snapshot(api: &dyn RepoApi) -> Value {
    let pipes = api.list_pipes().expect("list pipes");
    let grants: Vec<Value> = pipes
        .iter()
        .filter(|p| p.role == "write")
        .map(|p| json!(api.list_grants(&p.name).unwrap_or_default()))
        .collect();
    let remotes = api.list_remotes().expect("list remotes");
    json!({"pipes": pipes, "grants": grants, "remotes": remotes})
}
