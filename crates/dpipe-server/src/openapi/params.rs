//! The path and query parameters of the routes, with the rules the registry applies to them.

use dpipe_core::name::{MAX_NAME_LEN, MAX_USERNAME_LEN, NAME_PATTERN, USERNAME_PATTERN};
use dpipe_registry::audit::{AUDIT_LIMIT, PIPE_ACTIONS};
use dpipe_registry::invitations::LINK_LIFETIME;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{KnownFormat, Required};

use super::schema::{format, one_of_strings, string};

/// A parameter named `name` in `place`, required or not, with `schema`.
fn parameter(
    name: &str,
    place: ParameterIn,
    required: bool,
    description: &str,
    schema: utoipa::openapi::schema::ObjectBuilder,
) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(place)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// `{name}` of a pipe or remote.
pub(crate) struct ResourceName;

impl IntoParams for ResourceName {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "name",
            ParameterIn::Path,
            true,
            "The pipe's or remote's name.",
            string()
                .pattern(Some(NAME_PATTERN))
                .min_length(Some(1))
                .max_length(Some(MAX_NAME_LEN)),
        )]
    }
}

/// `{username}` of an account.
pub(crate) struct Username;

impl IntoParams for Username {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "username",
            ParameterIn::Path,
            true,
            "The account's username: only the caller's own.",
            string()
                .pattern(Some(USERNAME_PATTERN))
                .max_length(Some(MAX_USERNAME_LEN)),
        )]
    }
}

/// The query of `GET pipes/<name>/credentials/`.
pub(crate) struct CredentialsQuery;

impl IntoParams for CredentialsQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            parameter(
                "role",
                ParameterIn::Query,
                true,
                "Which access the credentials are for: write needs a write grant.",
                one_of_strings(["read", "write"]),
            ),
            parameter(
                "renew",
                ParameterIn::Query,
                false,
                "True, true or 1 asks for fresh credentials (a new key for a managed pipe); \
                 anything else does not.",
                string(),
            ),
        ]
    }
}

/// The query of `GET pipes/<name>/audit/`.
pub(crate) struct AuditQuery;

impl IntoParams for AuditQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            parameter(
                "since",
                ParameterIn::Query,
                false,
                "Only events at or after this instant (RFC 3339, e.g. 2026-06-15T00:00:00Z).",
                string().format(format(KnownFormat::DateTime)),
            ),
            parameter(
                "user",
                ParameterIn::Query,
                false,
                "Only events of this username (- for anonymous callers).",
                string(),
            ),
            parameter(
                "action",
                ParameterIn::Query,
                false,
                &format!(
                    "Only events of this action. Any other parameter is a 400; at most \
                     {AUDIT_LIMIT} events are returned, counted after the filters."
                ),
                one_of_strings(PIPE_ACTIONS),
            ),
        ]
    }
}

/// The query of `GET invitations/claim/`.
pub(crate) struct ClaimQuery;

impl IntoParams for ClaimQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "token",
            ParameterIn::Query,
            true,
            &format!(
                "The token of the mailed link (single-use, expires after {} days).",
                LINK_LIFETIME.num_days()
            ),
            string().min_length(Some(1)),
        )]
    }
}
