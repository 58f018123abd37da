//! [`StsIssuer`]: temporary credentials for managed pipes on an external S3, issued by its STS
//! with the session policy the registry asks for (`dpipe_core::session_policy`), so they
//! reach only one pipe's folder with one role.
//!
//! Two ways to ask ([`StsMode`]): `AssumeRole` of a role the server's identity may assume (the
//! credentials get the role's rights narrowed by the session policy; their lifetime is capped
//! by the role's `MaxSessionDuration`, 1 hour unless the role says more, and by 1 hour when the
//! server's identity is itself a role session), or `GetFederationToken` with the long-term keys
//! of an IAM user (the user's rights narrowed by the policy; up to 36 hours). Either way STS
//! grants at least 15 minutes.
//!
//! The registry calls [`SessionIssuer::issue`] synchronously, from a blocking thread; the SDK
//! is async, so the issuer keeps a handle of the runtime it was made on and blocks on it.
//! Errors are translated once, here, into `dpipe_core::Error`s a server admin can act on, and
//! never carry a secret.

use std::fmt;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use chrono::{DateTime, Utc};
use dpipe_core::managed::{IssuedSession, SessionIssuer, SessionRequest};
use dpipe_core::session_policy::{
    ASSUME_ROLE_DEFAULT_MAX_SECONDS, ASSUME_ROLE_MAX_SECONDS, FEDERATED_USER_NAME_MAX,
    FEDERATION_MAX_SECONDS, ROLE_SESSION_NAME_MAX, STS_MIN_SECONDS, clamp_session_seconds,
    fit_session_name,
};
use tokio::runtime::Handle;

use crate::error::{Error, ErrorKind, Result};
use crate::session::{SessionOptions, sdk_config};

/// How credentials are asked of STS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsMode {
    /// `AssumeRole` of `role_arn`, for at most `max_session_seconds` (the role's
    /// `MaxSessionDuration`: 900 to 43,200; [`StsMode::assume_role`] takes AWS's default,
    /// 3,600).
    AssumeRole {
        /// The role to assume, `arn:aws:iam::<account>:role/<name>`.
        role_arn: String,
        /// The role's `MaxSessionDuration`, in seconds.
        max_session_seconds: u32,
    },
    /// `GetFederationToken` with the server's own keys, which must be an IAM user's long-term
    /// keys (up to 129,600 seconds).
    FederationToken,
}

impl StsMode {
    /// `AssumeRole` of `role_arn` with AWS's default `MaxSessionDuration` (1 hour).
    pub fn assume_role(role_arn: impl Into<String>) -> StsMode {
        StsMode::AssumeRole {
            role_arn: role_arn.into(),
            max_session_seconds: ASSUME_ROLE_DEFAULT_MAX_SECONDS,
        }
    }

    /// The longest lifetime this mode can grant.
    pub fn max_session_seconds(&self) -> u32 {
        match self {
            StsMode::AssumeRole {
                max_session_seconds,
                ..
            } => *max_session_seconds,
            StsMode::FederationToken => FEDERATION_MAX_SECONDS,
        }
    }

    /// Refuses a role ARN that is not `arn:<partition>:iam:<region>:<account>:role/<name>` (the
    /// region and account may be empty, as S3-compatible services write them) and a
    /// maximum STS cannot grant.
    fn check(&self) -> Result<()> {
        let StsMode::AssumeRole {
            role_arn,
            max_session_seconds,
        } = self
        else {
            return Ok(());
        };
        let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
        let well_formed = matches!(
            parts.as_slice(),
            ["arn", partition, "iam", _, _, resource]
                if !partition.is_empty()
                    && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty())
        );
        if !well_formed {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!(
                    "invalid role ARN {role_arn:?}: it must look like \
                     arn:aws:iam::123456789012:role/NAME"
                ),
            ));
        }
        if !(STS_MIN_SECONDS..=ASSUME_ROLE_MAX_SECONDS).contains(max_session_seconds) {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!(
                    "invalid maximum session duration {max_session_seconds} s: a role's \
                     MaxSessionDuration is {STS_MIN_SECONDS} to {ASSUME_ROLE_MAX_SECONDS} s"
                ),
            ));
        }
        Ok(())
    }
}

/// Issues STS credentials for managed pipes (see the module doc). Holds no secret of its own
/// (keys stay in the SDK's credential provider); `Debug` shows endpoint, region and mode.
///
/// [`SessionIssuer::issue`] blocks on the runtime the issuer was loaded on: call it from a
/// blocking thread (`tokio::task::spawn_blocking`) or from outside that runtime, never from
/// one of its worker threads (Tokio panics there).
#[derive(Clone)]
pub struct StsIssuer {
    sts: aws_sdk_sts::Client,
    mode: StsMode,
    /// Where STS is, for messages: the endpoint URL, or AWS's STS of the region.
    target: String,
    region: String,
    runtime: Handle,
}

impl fmt::Debug for StsIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StsIssuer")
            .field("sts", &self.target)
            .field("region", &self.region)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl StsIssuer {
    /// An issuer asking the STS of `options` (endpoint, region, static keys or the standard
    /// chain, as for [`crate::AdminSession::load`]) in `mode`, blocking on the current Tokio
    /// runtime. Makes no AWS call: see [`StsIssuer::caller_arn`] for a check at start. Fails on
    /// a malformed role ARN or maximum, and on what [`crate::AdminSession::load`] fails on.
    pub async fn load(options: SessionOptions, mode: StsMode) -> Result<StsIssuer> {
        mode.check()?;
        let (config, region) = sdk_config(&options).await?;
        let target = match &options.endpoint_url {
            Some(url) => url.clone(),
            None => format!("AWS STS ({region})"),
        };
        Ok(StsIssuer {
            sts: aws_sdk_sts::Client::new(&config),
            mode,
            target,
            region,
            runtime: Handle::current(),
        })
    }

    /// How credentials are asked for.
    pub fn mode(&self) -> &StsMode {
        &self.mode
    }

    /// The longest lifetime issued credentials get; longer requests are cut to it.
    pub fn max_session_seconds(&self) -> u32 {
        self.mode.max_session_seconds()
    }

    /// The ARN STS sees the server as (`GetCallerIdentity`, which needs no permission): a
    /// check at start that STS is reachable and the server's keys are valid.
    pub async fn caller_arn(&self) -> dpipe_core::Result<String> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| self.error("GetCallerIdentity", e))?;
        out.arn()
            .map(str::to_owned)
            .ok_or_else(|| unexpected("GetCallerIdentity", "an ARN"))
    }

    /// [`SessionIssuer::issue`], for a caller that is async already.
    pub async fn issue_async(&self, request: &SessionRequest) -> dpipe_core::Result<IssuedSession> {
        let seconds = clamp_session_seconds(i64::from(request.seconds), self.max_session_seconds());
        // At most 129,600: fits.
        let seconds = i32::try_from(seconds).unwrap_or(i32::MAX);
        let (action, credentials) = match &self.mode {
            StsMode::AssumeRole { role_arn, .. } => {
                let out = self
                    .sts
                    .assume_role()
                    .role_arn(role_arn)
                    .role_session_name(fit_session_name(
                        &request.session_name,
                        ROLE_SESSION_NAME_MAX,
                    ))
                    .policy(&request.policy)
                    .duration_seconds(seconds)
                    .send()
                    .await
                    .map_err(|e| self.error("AssumeRole", e))?;
                ("AssumeRole", out.credentials)
            }
            StsMode::FederationToken => {
                let out = self
                    .sts
                    .get_federation_token()
                    .name(fit_session_name(
                        &request.session_name,
                        FEDERATED_USER_NAME_MAX,
                    ))
                    .policy(&request.policy)
                    .duration_seconds(seconds)
                    .send()
                    .await
                    .map_err(|e| self.error("GetFederationToken", e))?;
                ("GetFederationToken", out.credentials)
            }
        };
        let credentials = credentials.ok_or_else(|| unexpected(action, "credentials"))?;
        let expiration = credentials.expiration;
        let expires_at =
            DateTime::<Utc>::from_timestamp(expiration.secs(), expiration.subsec_nanos())
                .ok_or_else(|| unexpected(action, "a valid expiry"))?;
        Ok(IssuedSession {
            access_key_id: credentials.access_key_id,
            secret_access_key: credentials.secret_access_key,
            session_token: credentials.session_token,
            expires_at,
        })
    }

    /// Translates an SDK error of `action`: STS's refusal with its code and message (they name
    /// ARNs and actions, never key material), or the transport failure with its cause.
    fn error<E>(&self, action: &str, err: SdkError<E, HttpResponse>) -> dpipe_core::Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let what = match (&self.mode, action) {
            (StsMode::AssumeRole { role_arn, .. }, "AssumeRole") => {
                format!("AssumeRole of {role_arn}")
            }
            _ => action.to_owned(),
        };
        let message = match &err {
            SdkError::ServiceError(context) => {
                let status = context.raw().status().as_u16();
                // An error body the SDK could not parse (moto wraps its `<Error>` in an
                // `<Errors>`, S3-compatible services vary): its `<Code>` and `<Message>`.
                let body = context
                    .raw()
                    .body()
                    .bytes()
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .unwrap_or_default();
                let code = context.err().code().or_else(|| xml_text(body, "Code"));
                let text = match context.err().message() {
                    Some(text) => Some(text.to_owned()),
                    None => xml_text(body, "Message").map(unescape),
                };
                let detail = match (code, text) {
                    (Some(code), Some(text)) => format!("{code}: {text}"),
                    (Some(code), None) => code.to_owned(),
                    (None, Some(text)) => text,
                    (None, None) if matches!(status, 401 | 403) => "access denied".to_owned(),
                    (None, None) => "no error details".to_owned(),
                };
                let refused = if action == "GetCallerIdentity" {
                    "STS refused the server's AWS keys"
                } else {
                    "STS refused to issue credentials"
                };
                format!(
                    "{refused}: {detail} ({what} at {}, HTTP {status})",
                    self.target
                )
            }
            SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => {
                format!(
                    "cannot reach STS at {} ({what}): {}",
                    self.target,
                    causes(&err)
                )
            }
            SdkError::TimeoutError(_) => format!(
                "cannot reach STS at {} ({what}): no answer in time",
                self.target
            ),
            _ => format!(
                "cannot ask STS at {} for credentials ({what}; are the server's AWS \
                 credentials and region configured?): {}",
                self.target,
                causes(&err)
            ),
        };
        dpipe_core::Error::internal(message)
    }
}

impl SessionIssuer for StsIssuer {
    /// Blocks on the issuer's runtime: see [`StsIssuer`] for where it may be called.
    fn issue(&self, request: &SessionRequest) -> dpipe_core::Result<IssuedSession> {
        self.runtime.block_on(self.issue_async(request))
    }
}

/// The text of the first `<tag>` element of `xml`, when short enough to be a code or message.
fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let len = xml[start..].find(&format!("</{tag}>"))?;
    let text = xml[start..start + len].trim();
    (!text.is_empty() && text.len() <= 1_000).then_some(text)
}

/// `text` with XML's predefined entities replaced.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// `err` and its causes, each once: `dispatch failure: io error: …: Connection refused`.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.ends_with(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// STS answered without a field it must send.
fn unexpected(action: &str, field: &str) -> dpipe_core::Error {
    dpipe_core::Error::internal(format!("STS answered {action} without {field}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_checked() {
        for arn in [
            "arn:aws:iam::123456789012:role/dpipe",
            "arn:aws:iam::123456789012:role/path/dpipe",
            "arn:aws-cn:iam::123456789012:role/x",
            "arn:aws:iam:::role/S3Access",
            "arn:minio:iam:::role/abc",
        ] {
            assert!(StsMode::assume_role(arn).check().is_ok(), "{arn}");
        }
        for arn in [
            "",
            "dpipe",
            "arn:aws:iam::123456789012:user/dpipe",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:s3:::role/x",
            "arn::iam::1:role/x",
        ] {
            let err = StsMode::assume_role(arn).check().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid);
            assert!(err.message().starts_with("invalid role ARN"), "{err}");
        }
    }

    #[test]
    fn codes_and_messages_of_unparsed_error_bodies() {
        let body = "<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>AccessDenied</Code>\
                    <Message>User: a &amp; b is not authorized</Message></Error></Errors>\
                    </ErrorResponse>";
        assert_eq!(xml_text(body, "Code"), Some("AccessDenied"));
        let message = xml_text(body, "Message").unwrap();
        assert_eq!(unescape(message), "User: a & b is not authorized");
        assert_eq!(xml_text("<Code></Code>", "Code"), None);
        assert_eq!(xml_text("no xml", "Code"), None);
        assert_eq!(xml_text("<Code>unterminated", "Code"), None);
    }

    #[test]
    fn maximum_lifetimes() {
        assert_eq!(
            StsMode::assume_role("arn:aws:iam::1:role/x").max_session_seconds(),
            3_600
        );
        assert_eq!(StsMode::FederationToken.max_session_seconds(), 129_600);
        for max in [0, 899, 43_201] {
            let mode = StsMode::AssumeRole {
                role_arn: "arn:aws:iam::1:role/x".into(),
                max_session_seconds: max,
            };
            assert!(mode.check().is_err(), "{max}");
        }
    }
}
