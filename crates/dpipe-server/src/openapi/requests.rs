//! The JSON bodies the POST, PUT and PATCH routes take, as JSON Schema. Handlers read bodies
//! as plain JSON and the registry judges them (so wrong types get the same answer on every
//! face); these types exist only to describe that judgement, built from the same constants
//! the validation uses.

use dpipe_core::name::{
    EMAIL_PATTERN, MAX_EMAIL_LEN, MAX_NAME_LEN, MAX_USERNAME_LEN, NAME_PATTERN, PUBLIC,
    USERNAME_PATTERN,
};
use dpipe_core::protocol::{MANAGED, Protocol};
use dpipe_registry::accounts::MIN_PASSWORD_CHARS;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{KnownFormat, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::schema::{
    format, non_blank_string, nullable_free_object, nullable_string, object_schema, one_of_strings,
    string,
};

object_schema! {
    /// `POST accounts/`.
    NewAccount => || {
        ObjectBuilder::new()
            .description(Some(
                "A new account. The username is judged first (valid, not reserved, not taken), \
                 then the email, then the password.",
            ))
            .property(
                "username",
                string()
                    .pattern(Some(USERNAME_PATTERN))
                    .max_length(Some(MAX_USERNAME_LEN))
                    .description(Some(format!(
                        "Letters, digits and @ . + - _, at most {MAX_USERNAME_LEN} characters; \
                         not {PUBLIC} or token (in any case); not taken."
                    ))),
            )
            .property("email", email())
            .property(
                "password",
                non_blank_string()
                    .min_length(Some(MIN_PASSWORD_CHARS))
                    .description(Some(format!("At least {MIN_PASSWORD_CHARS} characters, not blank."))),
            )
            .required("username")
            .required("email")
            .required("password")
    }
}

object_schema! {
    /// `POST accounts/token/`.
    Login => || {
        ObjectBuilder::new()
            .property("username", non_blank_string())
            .property("password", non_blank_string())
            .required("username")
            .required("password")
    }
}

object_schema! {
    /// `POST pipes/` and `PUT pipes/<name>/`: `name` is required.
    PipeRequest => || pipe_request(false).required("name")
}

object_schema! {
    /// `PATCH pipes/<name>/`: every field may be left out (kept as it is).
    PipePatch => || pipe_request(true)
}

object_schema! {
    /// `POST remotes/`: `name`, `protocol` and `location` are required.
    NewRemote => || remote_request().required("name").required("protocol").required("location")
}

object_schema! {
    /// `PUT remotes/<name>/`: `name` is required, the fields left out are kept.
    RemotePut => || remote_request().required("name")
}

object_schema! {
    /// `PATCH remotes/<name>/`: every field may be left out (kept as it is), none may be null.
    RemotePatch => remote_request
}

/// `POST pipes/<name>/permissions/`: the grant's fields, with exactly one of username or email.
pub(crate) struct GrantRequest;

impl PartialSchema for GrantRequest {
    fn schema() -> RefOr<Schema> {
        let fields = ObjectBuilder::new()
            .property(
                "username",
                nullable_string()
                    .min_length(Some(1))
                    .description(Some(format!(
                        "An existing username, or {PUBLIC} for everybody (null counts as left out)."
                    ))),
            )
            .property(
                "email",
                email()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .description(Some(
                        "An email: the account registered with it, else an invitation \
                         (null counts as left out).",
                    )),
            )
            .property(
                "role",
                one_of_strings(["read", "write", "admin", "revoke", CONFIRM]).description(Some(
                    "revoke deletes the grant; confirm (with email) confirms the account that \
                     registered with the email of a waiting invitation.",
                )),
            )
            .property(
                "expiration_date",
                nullable_string()
                    .format(format(KnownFormat::Date))
                    .pattern(Some(DATE_PATTERN))
                    .description(Some("The last day of access, YYYY-MM-DD; null for no end.")),
            )
            .required("role");
        let given = |field: &str| {
            ObjectBuilder::new()
                .property(field, string())
                .required(field)
                .build()
        };
        let exactly_one = OneOfBuilder::new()
            .item(given("username"))
            .item(given("email"))
            .description(Some("Exactly one of username or email (400 otherwise)."));
        Schema::AllOf(
            AllOfBuilder::new()
                .item(fields.build())
                .item(Schema::OneOf(exactly_one.build()))
                .build(),
        )
        .into()
    }
}

impl ToSchema for GrantRequest {}

/// A day as grants take it: `YYYY-MM-DD` (the registry also checks that the day exists).
const DATE_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";

/// The `role` that confirms an invitation.
const CONFIRM: &str = "confirm";

/// An email address as the registry accepts it: its pattern, which takes more than the
/// ASCII addresses of `format: email` (any characters but spaces, control characters and a
/// second @, around a dotted domain), so no `format` is claimed.
fn email() -> ObjectBuilder {
    string()
        .pattern(Some(EMAIL_PATTERN))
        .max_length(Some(MAX_EMAIL_LEN))
}

/// A pipe or remote name; `nullable` where null counts as left out.
fn resource_name(nullable: bool) -> ObjectBuilder {
    let base = if nullable {
        nullable_string()
    } else {
        string()
    };
    base.pattern(Some(NAME_PATTERN))
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_LEN))
        .description(Some(format!(
            "Letters, digits and hyphens, at most {MAX_NAME_LEN} characters, not pipes or remotes \
             (in any case); unique; cannot be changed by an update."
        )))
}

/// The name of an existing pipe or remote, or null for none.
fn existing_name() -> ObjectBuilder {
    nullable_string()
        .pattern(Some(NAME_PATTERN))
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_LEN))
}

/// Stored credentials: flat (string values), or split into the `read` and `write` halves
/// (each flat); null for none. Which keys a protocol needs is checked against the resolved
/// protocol (400 naming the missing key).
fn credentials() -> RefOr<Schema> {
    let flat = || {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::Object(
                string().build(),
            )))))
    };
    let split = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("read", flat())
        .property("write", flat())
        .required("read")
        .required("write")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    Schema::OneOf(
        OneOfBuilder::new()
            .item(flat().build())
            .item(split.build())
            .item(ObjectBuilder::new().schema_type(Type::Null).build())
            .description(Some(
                "Write-only: flat (string values), or split into read and write halves.",
            ))
            .build(),
    )
    .into()
}

/// What a location must be, per protocol.
const LOCATION_RULES: &str = "Not empty; no control characters. For s3 a bucket name: 3-63 \
    lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit; for \
    ftp host, host:port, ftp://host[:port] or ftps://host[:port]; for sftp host or host:port; \
    for fs an absolute folder path without backslashes.";

/// A non-empty string without control characters (what `char::is_control` refuses: C0, DEL
/// and C1), as locations must be.
const NO_CONTROL_CHARACTERS: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]+$";

/// The fields of a pipe's body. Null counts as left out for every field but `name` of a
/// create or PUT.
fn pipe_request(patch: bool) -> ObjectBuilder {
    let protocols = Protocol::ALL.map(Protocol::as_str);
    ObjectBuilder::new()
        .description(Some(
            "Fields a caller may not set (owner, role, timestamps, options.remotepath) are \
             ignored. Storage comes from a parent, a remote, or inline protocol/location/\
             credentials/settings; a pipe with none of them is managed by the server.",
        ))
        .property("name", resource_name(patch))
        .property(
            "parent",
            existing_name().description(Some("The parent pipe's name.")),
        )
        .property(
            "remote",
            existing_name().description(Some("A remote's name.")),
        )
        .property(
            "protocol",
            nullable_string()
                .enum_values(Some(
                    protocols
                        .into_iter()
                        .chain([MANAGED])
                        .map(Some)
                        .chain([None]),
                ))
                .description(Some(format!(
                    "{MANAGED} asks for the server's managed storage."
                ))),
        )
        .property(
            "location",
            nullable_string()
                .pattern(Some(NO_CONTROL_CHARACTERS))
                .description(Some(LOCATION_RULES)),
        )
        .property("credentials", credentials())
        .property("settings", nullable_free_object())
        .property(
            "options",
            nullable_free_object()
                .property(
                    "dir",
                    nullable_string().description(Some(
                        "A sub-folder: forward slashes, no .., no control characters.",
                    )),
                )
                .property("include", nullable_string())
                .property("exclude", nullable_string()),
        )
        .property(
            "schema",
            nullable_free_object().description(Some("Free JSON for readers.")),
        )
}

/// The fields of a remote's body: `name`, `protocol` and `location` are never null.
fn remote_request() -> ObjectBuilder {
    ObjectBuilder::new()
        .description(Some(
            "name, protocol and location may be left out of an update (kept as they are) but \
             never null (400). Fields a caller may not set (owner, timestamps) are ignored.",
        ))
        .property("name", resource_name(false))
        .property(
            "protocol",
            one_of_strings(Protocol::ALL.map(Protocol::as_str)),
        )
        .property(
            "location",
            string()
                .pattern(Some(NO_CONTROL_CHARACTERS))
                .description(Some(LOCATION_RULES)),
        )
        .property("credentials", credentials())
        .property("settings", nullable_free_object())
        .property(
            "schema",
            nullable_free_object().description(Some("Free JSON for readers.")),
        )
}
