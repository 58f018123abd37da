//! Remotes (the seed's self-hosted storage): a named protocol + location + credentials +
//! shared settings that pipes can point to. Only their owner sees or uses them, and no GET
//! ever shows their credentials.

use dpipe_core::credentials::Credentials;
use dpipe_core::fields::Body;
use dpipe_core::name::validate_resource_name;
use dpipe_core::protocol::Protocol;
use dpipe_core::wire::RemoteView;
use dpipe_core::{Error, Result};
use dpipe_store::{NewRemote, RemoteRecord};
use serde_json::{Map, Value};

use crate::audit::{Action, Subject};
use crate::key_ring::SealingKeys;
use crate::pipes::validate_settings;
use crate::sealing::{self, Holder};
use crate::{Caller, Registry, StoreResultExt, UpdateMode};

impl Registry {
    /// `GET remotes/`: the caller's remotes, by name.
    pub fn list_remotes(&self, caller: &Caller) -> Result<Vec<RemoteView>> {
        let user = caller.user()?;
        let remotes = self.store.remotes_of_owner(user.id).or_internal()?;
        remotes
            .iter()
            .map(|r| view(&self.ring, r, &user.username))
            .collect()
    }

    /// `GET remotes/<name>/`: 404 when missing, 403 when not the caller's.
    pub fn get_remote(&self, caller: &Caller, name: &str) -> Result<RemoteView> {
        let remote = self.owned_remote(caller, name)?;
        view(&self.ring, &remote, caller.name())
    }

    /// `POST remotes/`: creates a remote owned by the caller. Audited as `remote.create`.
    pub fn create_remote(&self, caller: &Caller, body: &Value) -> Result<RemoteView> {
        self.audited(
            Action::RemoteCreate,
            caller.name(),
            Subject::remote_in(body),
            || self.insert_remote(caller, body),
        )
    }

    fn insert_remote(&self, caller: &Caller, body: &Value) -> Result<RemoteView> {
        let user = caller.user()?;
        let body = Body::new(body)?;
        refuse_nulls(&body)?;
        let name = body.str("name")?;
        validate_resource_name(name)?;
        if self.store.remote_by_name(name).or_internal()?.is_some() {
            return Err(Error::not_unique("name"));
        }
        let draft = RemoteRecord {
            id: 0,
            name: name.to_string(),
            owner_id: user.id,
            protocol: String::new(),
            location: String::new(),
            credentials: None,
            settings: Map::new(),
            schema: Value::Object(Map::new()),
        };
        let valid = validated(&self.ring, draft, body)?;
        let created = self
            .store
            .insert_remote(&NewRemote {
                name: valid.name,
                owner_id: valid.owner_id,
                protocol: valid.protocol,
                location: valid.location,
                credentials: valid.credentials,
                settings: valid.settings,
                schema: valid.schema,
            })
            .or_internal()?;
        view(&self.ring, &created, &user.username)
    }

    /// `PATCH`/`PUT remotes/<name>/`: 404, then 403 unless the caller owns it, then the merged
    /// remote is validated. Credentials absent from the body are kept. Audited as
    /// `remote.update`.
    pub fn update_remote(
        &self,
        caller: &Caller,
        name: &str,
        body: &Value,
        mode: UpdateMode,
    ) -> Result<RemoteView> {
        self.audited(
            Action::RemoteUpdate,
            caller.name(),
            Subject::remote(name),
            || self.change_remote(caller, name, body, mode),
        )
    }

    fn change_remote(
        &self,
        caller: &Caller,
        name: &str,
        body: &Value,
        mode: UpdateMode,
    ) -> Result<RemoteView> {
        let stored = self.owned_remote(caller, name)?;
        let body = Body::new(body)?;
        refuse_nulls(&body)?;
        if mode == UpdateMode::Full {
            body.str("name")?;
        }
        if let Some(new_name) = body.opt_str("name")?
            && new_name != name
        {
            return Err(Error::invalid_field(
                "name",
                "A remote's name cannot be changed.",
            ));
        }
        let valid = validated(&self.ring, stored.clone(), body)?;
        let updated = if valid != stored {
            self.store.update_remote(&valid).or_internal()?
        } else {
            stored
        };
        view(&self.ring, &updated, caller.name())
    }

    /// `DELETE remotes/<name>/`: refused (400, naming them) while pipes use the remote.
    /// Audited as `remote.delete`.
    pub fn delete_remote(&self, caller: &Caller, name: &str) -> Result<()> {
        self.audited(Action::RemoteDelete, caller.name(), Subject::remote(name), || {
            let remote = self.owned_remote(caller, name)?;
            self.store.delete_remote(remote.id).map_err(|err| match err {
                dpipe_store::StoreError::InUse(pipes) => Error::invalid(format!(
                    "Remote {name} is used by pipes {}; delete them or move them to another remote first.",
                    pipes.join(", ")
                )),
                other => crate::store_error(other),
            })
        })
    }

    fn owned_remote(&self, caller: &Caller, name: &str) -> Result<RemoteRecord> {
        let user = caller.user()?;
        let remote = self
            .store
            .remote_by_name(name)
            .or_internal()?
            .ok_or_else(Error::not_found)?;
        if remote.owner_id != user.id {
            return Err(Error::forbidden());
        }
        Ok(remote)
    }
}

/// The string fields a remote cannot be without: `null` is refused rather than read as
/// "left out", as the API document types them as strings.
fn refuse_nulls(body: &Body<'_>) -> Result<()> {
    for field in ["name", "protocol", "location"] {
        if body.map().get(field) == Some(&Value::Null) {
            return Err(Error::invalid_field(field, "This field may not be null."));
        }
    }
    Ok(())
}

/// `remote` with the fields of `body` applied, validated as a whole.
fn validated(ring: &SealingKeys, mut remote: RemoteRecord, body: Body<'_>) -> Result<RemoteRecord> {
    if let Some(protocol) = body.opt_str("protocol")? {
        remote.protocol = protocol.to_string();
    }
    if let Some(location) = body.opt_str("location")? {
        remote.location = location.to_string();
    }
    if remote.protocol.is_empty() {
        return Err(Error::required("protocol"));
    }
    let protocol = Protocol::parse(&remote.protocol)?;
    if remote.location.is_empty() {
        return Err(Error::required("location"));
    }
    protocol.validate_location(&remote.location)?;
    if body.has("settings") {
        remote.settings = body.opt_object("settings")?.cloned().unwrap_or_default();
    }
    validate_settings(&remote.settings)?;
    if let Some(schema) = body.map().get("schema") {
        remote.schema = match schema {
            Value::Null => Value::Object(Map::new()),
            Value::Object(_) => schema.clone(),
            _ => {
                return Err(Error::invalid_field(
                    "schema",
                    "Expected a dictionary of items.",
                ));
            }
        };
    }
    if body.has("credentials") {
        remote.credentials = match body.opt_object("credentials")? {
            Some(map) if !map.is_empty() => Some(sealing::seal(
                ring,
                Holder::Remote,
                &remote.name,
                &Credentials::parse(protocol, map)?,
            )?),
            _ => None,
        };
    }
    Ok(remote)
}

fn view(ring: &SealingKeys, remote: &RemoteRecord, owner: &str) -> Result<RemoteView> {
    let kind = match sealing::open(
        ring,
        Holder::Remote,
        &remote.name,
        remote.credentials.as_deref(),
    )? {
        None => "none",
        Some(Credentials::Flat(_)) => "flat",
        Some(Credentials::Split { .. }) => "split",
    };
    Ok(RemoteView {
        name: remote.name.clone(),
        protocol: remote.protocol.clone(),
        location: remote.location.clone(),
        settings: remote.settings.clone(),
        schema: remote.schema.clone(),
        credentials: kind.to_string(),
        owner: owner.to_string(),
    })
}

impl Registry {
    /// `GET remotes/<name>/credentials/`: the remote's stored credentials as they were given
    /// (flat, or split into `{read, write}`; `{}` for none), for its owner only — 404 when
    /// missing, 403 when not the caller's, like [`Registry::get_remote`]. Values a client
    /// encrypted are returned encrypted: this is how the owner re-encrypts them with a new key.
    pub fn remote_credentials(&self, caller: &Caller, name: &str) -> Result<Value> {
        self.audited(
            Action::RemoteCredentials,
            caller.name(),
            Subject::remote(name),
            || {
                let remote = self.owned_remote(caller, name)?;
                let stored = sealing::open(
                    &self.ring,
                    Holder::Remote,
                    &remote.name,
                    remote.credentials.as_deref(),
                )?;
                Ok(stored.map_or_else(|| Value::Object(Map::new()), |c| c.to_value()))
            },
        )
    }
}
