//! Minting managed-storage credentials for one caller, pipe and role.
//!
//! Built-in storage: a key id recorded in the store with its pipe, caller, role and expiry; its
//! secret and session token are derived from the server key, so no secret is stored. A fetch
//! reuses the caller's key while it has at least half its lifetime left (a sync asks for
//! credentials every run; minting each time would grow the table without need); `renew`
//! always mints a new key id. External storage: STS credentials limited by a session policy
//! that allows only the pipe's folder and the role. Either way the credentials never outlive
//! the grant that allows them, where the issuer allows it (STS has a 15-minute minimum).

use chrono::{DateTime, NaiveTime, SecondsFormat, TimeDelta, Utc};
use dpipe_core::managed::{Scope, SessionRequest};
use dpipe_core::role::Access;
use dpipe_core::session_policy::{session_name, session_policy};
use dpipe_core::{Error, Result};
use dpipe_store::{NewStorageKey, PipeRecord};
use rand::Rng;
use serde_json::{Map, Value};

use crate::access::AccessView;
use crate::managed::{Issuer, key_secret, key_session_token, parse_time};
use crate::{Registry, StoreResultExt};

/// Characters of a minted access key id after its `DPK` prefix (AWS ids are 20 long).
const KEY_ID_CHARS: usize = 17;
/// Minted keys this long expired are forgotten when the next key is minted.
const FORGET_AFTER: TimeDelta = TimeDelta::days(1);

/// Credentials minted for one fetch, with what the audit trail records of them.
pub(crate) struct Minted {
    /// `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`.
    pub(crate) credentials: Map<String, Value>,
    /// The access key id.
    pub(crate) key_id: String,
    /// When they stop working (RFC 3339 UTC).
    pub(crate) expires_at: String,
}

impl Registry {
    /// Credentials for the caller of `access` to reach `pipe` (whose files are at
    /// `remotepath` on managed storage) with `wanted`.
    pub(crate) fn mint(
        &self,
        access: &AccessView<'_>,
        pipe: &PipeRecord,
        wanted: Access,
        renew: bool,
        remotepath: &str,
    ) -> Result<Minted> {
        let managed = self.managed.as_deref().ok_or_else(|| {
            Error::invalid(
                "There is no managed storage here (local mode, or a server started with --no-storage), so the files of this managed pipe cannot be reached.",
            )
        })?;
        let now = self.clock.now();
        let until = access
            .access_until(pipe, wanted)?
            .ok_or_else(Error::forbidden)?;
        // A grant's last day ends at midnight UTC after it.
        let grant_end = until
            .and_then(|day| day.succ_opt())
            .map(|day| day.and_time(NaiveTime::MIN).and_utc());
        let expires = match grant_end {
            Some(end) => (now + managed.lifetime).min(end),
            None => now + managed.lifetime,
        };
        match &managed.issuer {
            Issuer::BuiltIn => {
                let reuse = (!renew).then_some(Reuse {
                    now,
                    half_life: managed.lifetime / 2,
                });
                self.mint_builtin(access, pipe, wanted, reuse, (now, expires))
            }
            Issuer::Sts(issuer) => {
                let scope = Scope::of_remotepath(remotepath, wanted).ok_or_else(|| {
                    Error::internal(format!(
                        "managed pipe {} has no folder of its own",
                        pipe.name
                    ))
                })?;
                let seconds =
                    u32::try_from((expires - now).num_seconds().max(0)).unwrap_or(u32::MAX);
                let issued = issuer.issue(&SessionRequest {
                    session_name: session_name(access.caller.name(), &pipe.name),
                    policy: session_policy(&scope)?,
                    seconds,
                })?;
                Ok(Minted {
                    credentials: s3_keys(
                        &issued.access_key_id,
                        issued.secret_access_key,
                        issued.session_token,
                    ),
                    key_id: issued.access_key_id,
                    expires_at: timestamp(issued.expires_at),
                })
            }
        }
    }

    /// A built-in key living from `window.0` to `window.1`: the caller's current one when
    /// `reuse` allows it, else a new one.
    fn mint_builtin(
        &self,
        access: &AccessView<'_>,
        pipe: &PipeRecord,
        wanted: Access,
        reuse: Option<Reuse>,
        (now, expires): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<Minted> {
        let user_id = access.caller.user_id();
        let current = match reuse {
            Some(reuse) => self
                .store
                .newest_storage_key(pipe.id, user_id, wanted.as_str())
                .or_internal()?
                .filter(|key| {
                    let ends = parse_time(&key.expires_at);
                    ends <= expires && ends - reuse.now >= reuse.half_life
                }),
            None => None,
        };
        let record = match current {
            Some(record) => record,
            None => self
                .store
                .insert_storage_key(
                    &NewStorageKey {
                        key_id: new_key_id(),
                        user_id,
                        pipe_id: pipe.id,
                        access: wanted.as_str().to_string(),
                        created_at: timestamp(now),
                        expires_at: timestamp(expires),
                    },
                    &timestamp(now - FORGET_AFTER),
                )
                .or_internal()?,
        };
        Ok(Minted {
            credentials: s3_keys(
                &record.key_id,
                key_secret(&self.key, &record.key_id),
                key_session_token(&self.key, &record.key_id),
            ),
            key_id: record.key_id,
            expires_at: record.expires_at,
        })
    }
}

/// When a caller's current built-in key is handed out again: while it ends no later than
/// the new expiry and has at least `half_life` left after `now`.
#[derive(Clone, Copy)]
struct Reuse {
    now: DateTime<Utc>,
    half_life: TimeDelta,
}

/// S3 keys as boto3 takes them.
fn s3_keys(key_id: &str, secret: String, session_token: String) -> Map<String, Value> {
    let mut keys = Map::new();
    keys.insert("aws_access_key_id".into(), key_id.into());
    keys.insert("aws_secret_access_key".into(), secret.into());
    keys.insert("aws_session_token".into(), session_token.into());
    keys
}

/// A fresh access key id: `DPK` and 17 random upper-case letters and digits.
fn new_key_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let random: String = (0..KEY_ID_CHARS)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("DPK{random}")
}

/// The stored form of a time: RFC 3339 UTC with milliseconds, which orders as text.
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
