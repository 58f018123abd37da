//! Releasing storage credentials (protocol §4.13): the half matching the requested access, from
//! the root of the pipe's chain, in the shape the d6tpipe client passes straight to boto3 —
//! or, for a managed pipe, credentials minted for this caller, pipe and role (`minting`).

use dpipe_core::credentials::release;
use dpipe_core::role::{Access, Role};
use dpipe_core::{Error, Result};
use serde_json::{Map, Value};

use crate::audit::{Action, Subject};
use crate::tree::Storage;
use crate::{Caller, Registry};

impl Registry {
    /// `GET pipes/<name>/credentials/?role=read|write[&renew=True]`: 404 for a missing pipe,
    /// 401/403 without read access, 400 for a missing or unknown `role`, 403 for `write`
    /// without write access. `renew` asks for fresh credentials: a new key for a managed pipe;
    /// stored static credentials are the freshest there are, so it returns them again. Every fetch is audited as
    /// `credentials.read` or `credentials.write`, and fails closed when it cannot be recorded.
    pub fn credentials(
        &self,
        caller: &Caller,
        pipe: &str,
        role: Option<&str>,
        renew: bool,
    ) -> Result<Map<String, Value>> {
        self.audited_with(
            Action::credentials(role),
            caller.name(),
            Subject::pipe(pipe),
            |subject| self.release_credentials(caller, pipe, role, renew, subject),
        )
    }

    fn release_credentials(
        &self,
        caller: &Caller,
        pipe: &str,
        role: Option<&str>,
        renew: bool,
        subject: &mut Subject,
    ) -> Result<Map<String, Value>> {
        let access = self.access_view_of(caller, pipe)?;
        let pipe = access.pipe(pipe)?;
        let held = access.require(pipe, Role::Read)?;
        let wanted = Access::parse(role.ok_or_else(|| Error::required("role"))?)?;
        if !held.allows(wanted) {
            return Err(Error::forbidden());
        }
        let chain = access.tree.chain(pipe)?;
        let storage = Storage::of_root(chain[0], &mut self.storage_lookup())?;
        if storage.managed {
            let minted = self.mint(&access, pipe, wanted, renew, &storage.remotepath(&chain))?;
            subject.handed_out(&minted.key_id, &minted.expires_at);
            return Ok(release(
                storage.protocol,
                &minted.credentials,
                &storage.settings,
            ));
        }
        let released = match &storage.credentials {
            Some(credentials) => release(
                storage.protocol,
                credentials.for_access(wanted),
                &storage.settings,
            ),
            None => release(storage.protocol, &Map::new(), &storage.settings),
        };
        Ok(released)
    }
}
