//! What dpipe asks an external S3's STS for when it hands out managed-storage credentials:
//! the session policy of a [`Scope`] ([`session_policy`]), the session's name
//! ([`session_name`], [`fit_session_name`]) and its lifetime ([`clamp_session_seconds`]).
//!
//! STS credentials can do at most what both the issuing identity (the assumed role, or the
//! IAM user asking for a federation token) and the session policy allow, so the session policy
//! is what narrows the server's broad rights to one pipe's folder and one role:
//!
//! * `s3:ListBucket` on the bucket, only with an `s3:prefix` like `<prefix>*`. The prefix ends
//!   with `/`, and `*` also matches nothing, so listing the folder itself (`prefix=ann/demo/`)
//!   is allowed; `ann/demo` without the slash is not (it would list `ann/demo-2/` too), nor is a
//!   listing without a prefix (the bucket's root).
//! * `s3:GetObject` on `arn:aws:s3:::<bucket>/<prefix>*`; for write also `s3:PutObject`
//!   (which also covers the multipart create, upload-part and complete calls),
//!   `s3:DeleteObject`, `s3:AbortMultipartUpload` and `s3:ListMultipartUploadParts`.
//!
//! The prefix comes from user input (a child pipe's `dir` may hold any character), and in IAM
//! `*` and `?` are wildcards and `${…}` a variable, so those three characters are written as
//! IAM's escapes `${*}`, `${?}` and `${$}`: a key with them matches only literally. A scope
//! that could not be expressed without widening it (an empty prefix, one not ending with `/`,
//! `.` or `..` segments, control characters) is refused, as is a policy longer than the 2,048
//! characters STS accepts. The output is compact JSON with a fixed key order, pinned
//! byte-for-byte by the golden files in `session_policy/`.

use serde::Serialize;

use crate::managed::Scope;
use crate::role::Access;
use crate::{Error, Result};

/// The shortest lifetime STS grants (15 minutes).
pub const STS_MIN_SECONDS: u32 = 900;
/// The longest lifetime of a `GetFederationToken` session (36 hours).
pub const FEDERATION_MAX_SECONDS: u32 = 129_600;
/// The longest `AssumeRole` session unless the role's `MaxSessionDuration` says more (1 hour).
pub const ASSUME_ROLE_DEFAULT_MAX_SECONDS: u32 = 3_600;
/// The most a role's `MaxSessionDuration` can be set to (12 hours).
pub const ASSUME_ROLE_MAX_SECONDS: u32 = 43_200;
/// The longest `RoleSessionName` of `AssumeRole`.
pub const ROLE_SESSION_NAME_MAX: usize = 64;
/// The longest `Name` of `GetFederationToken`.
pub const FEDERATED_USER_NAME_MAX: usize = 32;
/// The longest session policy STS accepts, in characters of its plain text.
pub const SESSION_POLICY_MAX: usize = 2_048;

/// Object actions of a read scope.
const READ_ACTIONS: &[&str] = &["s3:GetObject"];
/// Object actions of a write scope: reading, writing, deleting, and multipart uploads.
const WRITE_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
];

/// The session policy (IAM JSON, version 2012-10-17) allowing exactly `scope`: listing its
/// prefix and reading its objects, and for write also writing and deleting them. Refused when
/// the scope's bucket or prefix could not be written without widening it, or when the policy
/// would be longer than STS accepts.
pub fn session_policy(scope: &Scope) -> Result<String> {
    check_bucket(scope)?;
    check_prefix(scope)?;
    let bucket_arn = format!("arn:aws:s3:::{}", scope.bucket);
    let prefix = escape(&scope.prefix);
    let (sid, actions) = match scope.access {
        Access::Read => ("ReadPipeObjects", READ_ACTIONS),
        Access::Write => ("WritePipeObjects", WRITE_ACTIONS),
    };
    let policy = Policy {
        version: "2012-10-17",
        statement: [
            Statement {
                sid: "ListPipePrefix",
                effect: "Allow",
                action: &["s3:ListBucket"],
                resource: bucket_arn.clone(),
                condition: Some(Condition {
                    string_like: PrefixCondition {
                        s3_prefix: format!("{prefix}*"),
                    },
                }),
            },
            Statement {
                sid,
                effect: "Allow",
                action: actions,
                resource: format!("{bucket_arn}/{prefix}*"),
                condition: None,
            },
        ],
    };
    let text = serde_json::to_string(&policy)
        .map_err(|e| Error::internal(format!("cannot write a session policy: {e}")))?;
    if text.chars().count() > SESSION_POLICY_MAX {
        return Err(refused(
            scope,
            format!(
                "its session policy would be {} characters long and STS accepts at most \
                 {SESSION_POLICY_MAX}; use a shorter pipe folder",
                text.chars().count()
            ),
        ));
    }
    Ok(text)
}

/// A name for the STS session of `user` on `pipe`: `dpipe-<user>-<pipe>` with every character
/// STS refuses (outside `[A-Za-z0-9_+=,.@-]`) made a `-`, at most [`ROLE_SESSION_NAME_MAX`]
/// long. When both names do not fit, each keeps at least half the room left by `dpipe-` and the
/// separator, so the session's name still tells user and pipe apart in the storage's logs.
pub fn session_name(user: &str, pipe: &str) -> String {
    let user = clean_name(user);
    let pipe = clean_name(pipe);
    let room = ROLE_SESSION_NAME_MAX - "dpipe-".len() - "-".len();
    let pipe_len = pipe
        .len()
        .min((room / 2).max(room.saturating_sub(user.len())));
    let user_len = user.len().min(room - pipe_len);
    format!("dpipe-{}-{}", &user[..user_len], &pipe[..pipe_len])
}

/// `name` made acceptable as an STS session or federated-user name of at most `max`
/// characters (`[A-Za-z0-9_+=,.@-]{2,max}`): other characters become `-`, the end is cut, and
/// a name shorter than two characters is padded with `-`.
pub fn fit_session_name(name: &str, max: usize) -> String {
    let mut fitted = clean_name(name);
    fitted.truncate(max.max(2));
    while fitted.len() < 2 {
        fitted.push('-');
    }
    fitted
}

/// The lifetime to ask STS for when `wanted` seconds are wanted and the mode allows at most
/// `max`: never under STS's minimum of [`STS_MIN_SECONDS`] (so credentials may outlive a grant
/// that ends sooner by up to that), never over `max` (nor under the minimum when `max` is).
pub fn clamp_session_seconds(wanted: i64, max: u32) -> u32 {
    let max = max.max(STS_MIN_SECONDS);
    let clamped = wanted.clamp(i64::from(STS_MIN_SECONDS), i64::from(max));
    u32::try_from(clamped).unwrap_or(max)
}

/// Characters STS accepts in session and federated-user names.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// `name` with every character STS refuses made a `-` (so the result is ASCII).
fn clean_name(name: &str) -> String {
    name.chars()
        .map(|c| if is_name_char(c) { c } else { '-' })
        .collect()
}

/// `text` with IAM's wildcards and variable marker written as their literal escapes.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' => escaped.push_str("${*}"),
            '?' => escaped.push_str("${?}"),
            '$' => escaped.push_str("${$}"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// S3 bucket names (including the legacy ones of us-east-1): letters, digits, `.`, `_`, `-`.
fn check_bucket(scope: &Scope) -> Result<()> {
    let bucket = &scope.bucket;
    if bucket.is_empty() {
        return Err(refused(scope, "it names no bucket".into()));
    }
    if let Some(bad) = bucket
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._-".contains(*c)))
    {
        return Err(refused(
            scope,
            format!("{bad:?} cannot occur in an S3 bucket name"),
        ));
    }
    Ok(())
}

/// A prefix naming one folder: not empty, not absolute, ending with `/`, with no empty, `.`
/// or `..` segment, no backslash and no control character.
fn check_prefix(scope: &Scope) -> Result<()> {
    let prefix = &scope.prefix;
    let Some(folder) = prefix.strip_suffix('/') else {
        return Err(refused(
            scope,
            "its folder must end with \"/\" (without it, the policy would also admit every \
             folder whose name starts the same)"
                .into(),
        ));
    };
    if folder.is_empty() {
        return Err(refused(scope, "it would reach the whole bucket".into()));
    }
    if folder
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(refused(
            scope,
            "its folder has an empty, \".\" or \"..\" segment".into(),
        ));
    }
    if prefix.chars().any(|c| c.is_control() || c == '\\') {
        return Err(refused(
            scope,
            "its folder has a backslash or a control character".into(),
        ));
    }
    Ok(())
}

fn refused(scope: &Scope, why: String) -> Error {
    Error::invalid(format!(
        "cannot limit STS credentials to s3://{}/{}: {why}",
        scope.bucket,
        scope.prefix.escape_debug()
    ))
}

/// An IAM policy document, fields in the order AWS's documentation writes them.
#[derive(Serialize)]
struct Policy {
    #[serde(rename = "Version")]
    version: &'static str,
    #[serde(rename = "Statement")]
    statement: [Statement; 2],
}

#[derive(Serialize)]
struct Statement {
    #[serde(rename = "Sid")]
    sid: &'static str,
    #[serde(rename = "Effect")]
    effect: &'static str,
    #[serde(rename = "Action")]
    action: &'static [&'static str],
    #[serde(rename = "Resource")]
    resource: String,
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none")]
    condition: Option<Condition>,
}

#[derive(Serialize)]
struct Condition {
    #[serde(rename = "StringLike")]
    string_like: PrefixCondition,
}

#[derive(Serialize)]
struct PrefixCondition {
    #[serde(rename = "s3:prefix")]
    s3_prefix: String,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn scope(bucket: &str, prefix: &str, access: Access) -> Scope {
        Scope {
            bucket: bucket.into(),
            prefix: prefix.into(),
            access,
        }
    }

    fn parsed(scope: &Scope) -> Value {
        serde_json::from_str(&session_policy(scope).unwrap()).unwrap()
    }

    #[test]
    fn golden_read_policy() {
        let policy = session_policy(&scope("dpipe-managed", "ann/demo/", Access::Read)).unwrap();
        assert_eq!(policy, include_str!("session_policy/read.json"));
    }

    #[test]
    fn golden_write_policy() {
        let policy = session_policy(&scope("dpipe-managed", "ann/demo/", Access::Write)).unwrap();
        assert_eq!(policy, include_str!("session_policy/write.json"));
    }

    #[test]
    fn read_lists_and_gets_the_prefix_only() {
        let policy = parsed(&scope("b", "ann/demo/", Access::Read));
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0]["Action"], json!(["s3:ListBucket"]));
        assert_eq!(statements[0]["Resource"], "arn:aws:s3:::b");
        assert_eq!(
            statements[0]["Condition"],
            json!({"StringLike": {"s3:prefix": "ann/demo/*"}})
        );
        assert_eq!(statements[1]["Action"], json!(["s3:GetObject"]));
        assert_eq!(statements[1]["Resource"], "arn:aws:s3:::b/ann/demo/*");
        assert!(statements.iter().all(|s| s["Effect"] == "Allow"));
    }

    #[test]
    fn write_adds_put_delete_and_multipart_on_the_same_objects() {
        let policy = parsed(&scope("b", "ann/demo/sub/", Access::Write));
        let objects = &policy["Statement"][1];
        assert_eq!(objects["Resource"], "arn:aws:s3:::b/ann/demo/sub/*");
        for action in [
            "s3:GetObject",
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts",
        ] {
            assert!(
                objects["Action"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(action)),
                "{action}"
            );
        }
        // Listing stays on the pipe's prefix, whatever the role.
        assert_eq!(
            policy["Statement"][0]["Condition"]["StringLike"]["s3:prefix"],
            "ann/demo/sub/*"
        );
    }

    #[test]
    fn wildcards_and_variables_in_a_folder_match_only_literally() {
        let policy = parsed(&scope("b", "ann/x*y?z${aws:username}/", Access::Write));
        let literal = "ann/x${*}y${?}z${$}{aws:username}/";
        assert_eq!(
            policy["Statement"][1]["Resource"],
            format!("arn:aws:s3:::b/{literal}*")
        );
        assert_eq!(
            policy["Statement"][0]["Condition"]["StringLike"]["s3:prefix"],
            format!("{literal}*")
        );
    }

    #[test]
    fn json_special_characters_stay_inside_their_string() {
        let text = session_policy(&scope("b", "ann/a\"b/c d/é/", Access::Read)).unwrap();
        let policy: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            policy["Statement"][1]["Resource"],
            "arn:aws:s3:::b/ann/a\"b/c d/é/*"
        );
        assert_eq!(policy["Statement"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn scopes_that_would_widen_are_refused() {
        for (bucket, prefix) in [
            ("b", ""),
            ("b", "/"),
            ("b", "ann/demo"),
            ("b", "/ann/demo/"),
            ("b", "ann//demo/"),
            ("b", "ann/../bob/"),
            ("b", "ann/./demo/"),
            ("b", "ann\\demo/"),
            ("b", "ann/de\nmo/"),
            ("", "ann/demo/"),
            ("b*", "ann/demo/"),
            ("b/ann", "demo/"),
            ("b:x", "ann/demo/"),
        ] {
            let err = session_policy(&scope(bucket, prefix, Access::Read)).unwrap_err();
            assert_eq!(
                err.kind(),
                crate::ErrorKind::Invalid,
                "{bucket:?} {prefix:?}"
            );
            assert!(
                err.message().starts_with("cannot limit STS credentials"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_longest_root_pipe_fits_and_a_too_long_folder_is_refused() {
        let owner = "u".repeat(crate::name::MAX_USERNAME_LEN);
        let pipe = "p".repeat(crate::name::MAX_NAME_LEN);
        let prefix = crate::managed::managed_prefix(&owner, &pipe);
        let bucket = "b".repeat(63);
        let text = session_policy(&scope(&bucket, &prefix, Access::Write)).unwrap();
        assert!(text.len() <= SESSION_POLICY_MAX, "{}", text.len());

        let deep = format!("{}/", "d".repeat(1000));
        let err = session_policy(&scope("b", &deep, Access::Read)).unwrap_err();
        assert!(err.message().contains("STS accepts at most 2048"), "{err}");
        // Escapes count: a folder of wildcards grows fourfold.
        let stars = format!("{}/", "*".repeat(300));
        assert!(session_policy(&scope("b", &stars, Access::Read)).is_err());
    }

    #[test]
    fn session_names() {
        assert_eq!(session_name("ann", "demo"), "dpipe-ann-demo");
        assert_eq!(
            session_name("ann.o'neil+x@ex.com", "demo"),
            "dpipe-ann.o-neil+x@ex.com-demo"
        );
        let long = session_name(&"u".repeat(150), &"p".repeat(100));
        assert_eq!(long.len(), ROLE_SESSION_NAME_MAX);
        assert_eq!(long, format!("dpipe-{}-{}", "u".repeat(29), "p".repeat(28)));
        // A short pipe leaves its room to the user, and the other way round.
        let long_user = session_name(&"u".repeat(150), "demo");
        assert_eq!(long_user, format!("dpipe-{}-demo", "u".repeat(53)));
        let long_pipe = session_name("ann", &"p".repeat(100));
        assert_eq!(long_pipe, format!("dpipe-ann-{}", "p".repeat(54)));
        for name in [&long, &long_user, &long_pipe] {
            assert!(name.len() <= ROLE_SESSION_NAME_MAX && name.chars().all(is_name_char));
        }
    }

    #[test]
    fn fitted_session_names() {
        assert_eq!(fit_session_name("dpipe-ann-demo", 32), "dpipe-ann-demo");
        assert_eq!(fit_session_name(&"x".repeat(64), 32), "x".repeat(32));
        assert_eq!(fit_session_name("a b/é", 32), "a-b--");
        assert_eq!(fit_session_name("", 32), "--");
        assert_eq!(fit_session_name("a", 32), "a-");
    }

    #[test]
    fn session_seconds() {
        let role = ASSUME_ROLE_DEFAULT_MAX_SECONDS;
        assert_eq!(clamp_session_seconds(43_200, role), 3_600);
        assert_eq!(clamp_session_seconds(1_800, role), 1_800);
        assert_eq!(clamp_session_seconds(60, role), STS_MIN_SECONDS);
        assert_eq!(clamp_session_seconds(-5, role), STS_MIN_SECONDS);
        assert_eq!(
            clamp_session_seconds(i64::MAX, FEDERATION_MAX_SECONDS),
            129_600
        );
        assert_eq!(
            clamp_session_seconds(43_200, FEDERATION_MAX_SECONDS),
            43_200
        );
        // A maximum below STS's minimum cannot be honoured: the minimum wins.
        assert_eq!(clamp_session_seconds(10_000, 600), STS_MIN_SECONDS);
    }
}
