//! Pipes: list, get, create, update (PATCH/PUT), delete — with validation, inheritance from the
//! root of the chain and the computed `options.remotepath`.
//!
//! Create and both kinds of update go through one path: the request becomes a `Draft`
//! (from the body alone, or the stored pipe overlaid with the body), and the draft is
//! validated as a whole. So a rule holds the same way however a pipe came to be.

use dpipe_core::credentials::Credentials;
use dpipe_core::fields::Body;
use dpipe_core::name::validate_resource_name;
use dpipe_core::options::{clean_options, validate_dir};
use dpipe_core::protocol::{MANAGED, Protocol};
use dpipe_core::role::Role;
use dpipe_core::wire::PipeView;
use dpipe_core::{Error, Result};
use dpipe_store::{NewPipe, PipeRecord};
use serde_json::{Map, Value};

use crate::access::AccessView;
use crate::audit::{Action, Subject};
use crate::sealing::{self, Holder};
use crate::tree::{Storage, StorageLookup};
use crate::views::Views;
use crate::{Caller, Registry, StoreResultExt, UpdateMode};

/// A pipe as requested, before validation. Stored credentials stay encoded unless replaced.
#[derive(Default)]
struct Draft {
    name: String,
    parent: Option<String>,
    remote: Option<String>,
    protocol: Option<String>,
    location: Option<String>,
    new_credentials: Option<Map<String, Value>>,
    stored_credentials: Option<String>,
    settings: Option<Map<String, Value>>,
    options: Map<String, Value>,
    schema: Value,
}

/// A draft that passed validation, ready to store.
struct Valid {
    parent_id: Option<i64>,
    remote_id: Option<i64>,
    protocol: Option<String>,
    location: Option<String>,
    credentials: Option<String>,
    settings: Map<String, Value>,
    options: Map<String, Value>,
    schema: Value,
}

impl Registry {
    /// `GET pipes/`: every pipe the caller can read, by name.
    pub fn list_pipes(&self, caller: &Caller) -> Result<Vec<PipeView>> {
        let access = self.access_view_reaching(caller)?;
        let mut views = Views::new(self.storage_lookup());
        let mut out = Vec::new();
        for pipe in access.tree.all() {
            if let Some(role) = access.role(pipe)? {
                out.push(views.pipe(&access, pipe, role)?);
            }
        }
        Ok(out)
    }

    /// `GET pipes/<name>/`: one pipe with the caller's role; 404 when missing, 403 (401 when
    /// anonymous) without read access.
    pub fn get_pipe(&self, caller: &Caller, name: &str) -> Result<PipeView> {
        let access = self.access_view_of(caller, name)?;
        let pipe = access.pipe(name)?;
        let role = access.require(pipe, Role::Read)?;
        Views::new(self.storage_lookup()).pipe(&access, pipe, role)
    }

    /// `POST pipes/`: creates a pipe owned by the caller. Audited as `pipe.create`.
    pub fn create_pipe(&self, caller: &Caller, body: &Value) -> Result<PipeView> {
        self.audited(
            Action::PipeCreate,
            caller.name(),
            Subject::pipe_in(body),
            || self.insert_pipe(caller, body),
        )
    }

    fn insert_pipe(&self, caller: &Caller, body: &Value) -> Result<PipeView> {
        let user = caller.user()?;
        let access = self.access_view(caller)?;
        let body = Body::new(body)?;
        let mut draft = Draft {
            schema: Value::Object(Map::new()),
            ..Draft::default()
        };
        draft.name = body.str("name")?.to_string();
        validate_resource_name(&draft.name)?;
        if access.tree.named(&draft.name).is_some() {
            return Err(Error::not_unique("name"));
        }
        draft.overlay(body)?;
        let valid = self.validate(&access, &draft, None)?;
        let created = self
            .store
            .insert_pipe(&NewPipe {
                name: draft.name.clone(),
                owner_id: user.id,
                parent_id: valid.parent_id,
                remote_id: valid.remote_id,
                protocol: valid.protocol,
                location: valid.location,
                credentials: valid.credentials,
                settings: valid.settings,
                options: valid.options,
                schema: valid.schema,
            })
            .or_internal()?;
        self.get_pipe(caller, &created.name)
    }

    /// `PATCH`/`PUT pipes/<name>/`: 404 for a missing pipe before anything else, then the
    /// admin right is checked (before the body is looked at), then the merged pipe is
    /// validated as a whole. An empty body changes nothing. Audited as `pipe.update`.
    pub fn update_pipe(
        &self,
        caller: &Caller,
        name: &str,
        body: &Value,
        mode: UpdateMode,
    ) -> Result<PipeView> {
        self.audited(
            Action::PipeUpdate,
            caller.name(),
            Subject::pipe(name),
            || self.change_pipe(caller, name, body, mode),
        )
    }

    fn change_pipe(
        &self,
        caller: &Caller,
        name: &str,
        body: &Value,
        mode: UpdateMode,
    ) -> Result<PipeView> {
        let access = self.access_view(caller)?;
        let stored = access.pipe(name)?.clone();
        access.require(&stored, Role::Admin)?;
        let body = Body::new(body)?;
        if mode == UpdateMode::Full {
            body.str("name")?;
        }
        if let Some(new_name) = body.opt_str("name")?
            && new_name != name
        {
            return Err(Error::invalid_field(
                "name",
                "A pipe's name cannot be changed.",
            ));
        }
        let mut draft = Draft::from_stored(&access, &stored, &mut self.storage_lookup())?;
        draft.overlay(body)?;
        let valid = self.validate(&access, &draft, Some(&stored))?;
        let updated = PipeRecord {
            parent_id: valid.parent_id,
            remote_id: valid.remote_id,
            protocol: valid.protocol,
            location: valid.location,
            credentials: valid.credentials,
            settings: valid.settings,
            options: valid.options,
            schema: valid.schema,
            ..stored.clone()
        };
        if updated != stored {
            self.store.update_pipe(&updated).or_internal()?;
        }
        self.get_pipe(caller, name)
    }

    /// `DELETE pipes/<name>/`: the owner (of the pipe or an ancestor) deletes it with its
    /// descendants and all their grants. Files in storage are left alone. Audited as
    /// `pipe.delete`.
    pub fn delete_pipe(&self, caller: &Caller, name: &str) -> Result<()> {
        self.audited(
            Action::PipeDelete,
            caller.name(),
            Subject::pipe(name),
            || {
                let access = self.access_view(caller)?;
                let pipe = access.pipe(name)?;
                access.require(pipe, Role::Owner)?;
                self.store.delete_pipe(pipe.id).or_internal()
            },
        )
    }

    fn validate(
        &self,
        access: &AccessView<'_>,
        draft: &Draft,
        stored: Option<&PipeRecord>,
    ) -> Result<Valid> {
        let options = clean_options(&draft.options)?;
        let schema = match &draft.schema {
            Value::Null => Value::Object(Map::new()),
            Value::Object(_) => draft.schema.clone(),
            _ => {
                return Err(Error::invalid_field(
                    "schema",
                    "Expected a dictionary of items.",
                ));
            }
        };
        let storage_given = |what: &str, given: bool| -> Result<()> {
            if given {
                Err(Error::invalid_field(
                    what,
                    format!(
                        "{what} comes from {}; leave it out.",
                        if draft.parent.is_some() {
                            "the parent pipe"
                        } else {
                            "the remote"
                        }
                    ),
                ))
            } else {
                Ok(())
            }
        };
        let mut valid = Valid {
            parent_id: None,
            remote_id: None,
            protocol: None,
            location: None,
            credentials: None,
            settings: Map::new(),
            options,
            schema,
        };
        if let Some(parent_name) = &draft.parent {
            let parent = access.tree.named(parent_name).ok_or_else(|| {
                Error::invalid_field(
                    "parent",
                    format!("Object with name={parent_name} does not exist."),
                )
            })?;
            if let Some(stored) = stored
                && access.tree.is_within(parent.id, stored.id)
            {
                return Err(Error::invalid_field(
                    "parent",
                    "A pipe cannot be its own parent or ancestor.",
                ));
            }
            if stored.and_then(|s| s.parent_id) != Some(parent.id) {
                access.require(parent, Role::Admin)?;
            }
            storage_given("remote", draft.remote.is_some())?;
            storage_given("credentials", draft.new_credentials.is_some())?;
            storage_given(
                "settings",
                draft.settings.as_ref().is_some_and(|s| !s.is_empty()),
            )?;
            let chain = access.tree.chain(parent)?;
            let storage = Storage::of_root(chain[0], &mut self.storage_lookup())?;
            must_match(
                "protocol",
                draft.protocol.as_deref(),
                storage.protocol.as_str(),
                "the parent pipe",
            )?;
            must_match(
                "location",
                draft.location.as_deref(),
                &storage.location,
                "the parent pipe",
            )?;
            valid.parent_id = Some(parent.id);
        } else if let Some(remote_name) = &draft.remote {
            let remote = self
                .store
                .remote_by_name(remote_name)
                .or_internal()?
                .ok_or_else(|| {
                    Error::invalid_field(
                        "remote",
                        format!("Object with name={remote_name} does not exist."),
                    )
                })?;
            if Some(remote.owner_id) != access.caller.user_id()
                && stored.and_then(|s| s.remote_id) != Some(remote.id)
            {
                return Err(Error::forbidden_because(format!(
                    "You can only use your own remotes; {remote_name} is not yours."
                )));
            }
            storage_given("credentials", draft.new_credentials.is_some())?;
            storage_given(
                "settings",
                draft.settings.as_ref().is_some_and(|s| !s.is_empty()),
            )?;
            must_match(
                "protocol",
                draft.protocol.as_deref(),
                &remote.protocol,
                "the remote",
            )?;
            must_match(
                "location",
                draft.location.as_deref(),
                &remote.location,
                "the remote",
            )?;
            valid.remote_id = Some(remote.id);
        } else if draft.protocol.as_deref().is_none_or(|p| p == MANAGED) {
            // A name only (or d6tpipe's `d6tfree`): the server's managed storage.
            if self.managed.is_none() {
                return Err(Error::invalid_field(
                    "protocol",
                    "There is no managed storage here (local mode, or a server started with --no-storage): give protocol and location, a remote, or a parent.",
                ));
            }
            let given = [
                ("location", draft.location.is_some()),
                (
                    "credentials",
                    draft
                        .new_credentials
                        .as_ref()
                        .is_some_and(|c| !c.is_empty()),
                ),
                (
                    "settings",
                    draft.settings.as_ref().is_some_and(|s| !s.is_empty()),
                ),
            ];
            if let Some((field, _)) = given.iter().find(|(_, given)| *given) {
                return Err(Error::invalid_field(
                    *field,
                    format!(
                        "A managed pipe's storage is the server's: leave out {field}, or give a protocol."
                    ),
                ));
            }
            valid.protocol = Some(MANAGED.to_string());
        } else {
            let protocol = Protocol::parse(draft.protocol.as_deref().unwrap_or_default())?;
            let location = draft
                .location
                .as_deref()
                .ok_or_else(|| Error::required("location"))?;
            protocol.validate_location(location)?;
            let settings = draft.settings.clone().unwrap_or_default();
            validate_settings(&settings)?;
            valid.credentials = match &draft.new_credentials {
                Some(map) if map.is_empty() => None,
                Some(map) => Some(sealing::seal(
                    &self.ring,
                    Holder::Pipe,
                    &draft.name,
                    &Credentials::parse(protocol, map)?,
                )?),
                None => draft.stored_credentials.clone(),
            };
            valid.protocol = Some(protocol.as_str().to_string());
            valid.location = Some(location.to_string());
            valid.settings = settings;
        }
        Ok(valid)
    }
}

/// Checks the storage `settings` shared by a remote's or a root pipe's files.
pub(crate) fn validate_settings(settings: &Map<String, Value>) -> Result<()> {
    match settings.get("dir") {
        None | Some(Value::Null) => {}
        Some(Value::String(dir)) => validate_dir("settings", dir)?,
        Some(_) => return Err(Error::invalid_field("settings", "dir: Not a valid string.")),
    }
    for key in ["endpoint", "region"] {
        match settings.get(key) {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(_) => {
                return Err(Error::invalid_field(
                    "settings",
                    format!("{key}: Not a valid string."),
                ));
            }
        }
    }
    Ok(())
}

/// An inherited field may be repeated in a request only with the value it inherits.
fn must_match(field: &str, given: Option<&str>, inherited: &str, from: &str) -> Result<()> {
    match given {
        Some(value) if value != inherited => Err(Error::invalid_field(
            field,
            format!("{field} comes from {from} ({inherited}); it cannot be {value}."),
        )),
        _ => Ok(()),
    }
}

impl Draft {
    /// The stored pipe as a draft (parent and remote by name).
    fn from_stored(
        access: &AccessView<'_>,
        pipe: &PipeRecord,
        remotes: &mut StorageLookup<'_>,
    ) -> Result<Draft> {
        let remote = match pipe.remote_id {
            Some(id) => Some(remotes.get(id)?.name.clone()),
            None => None,
        };
        Ok(Draft {
            name: pipe.name.clone(),
            parent: pipe
                .parent_id
                .and_then(|id| access.tree.by_id(id))
                .map(|p| p.name.clone()),
            remote,
            protocol: pipe.protocol.clone(),
            location: pipe.location.clone(),
            new_credentials: None,
            stored_credentials: pipe.credentials.clone(),
            settings: Some(pipe.settings.clone()),
            options: pipe.options.clone(),
            schema: pipe.schema.clone(),
        })
    }

    /// Applies the fields present in `body`. Moving a pipe to another place (a new parent, a
    /// remote, inline storage) drops the storage it had, unless the body gives it again.
    fn overlay(&mut self, body: Body<'_>) -> Result<()> {
        let new_parent = body
            .has("parent")
            .then(|| body.opt_str("parent"))
            .transpose()?
            .map(|p| p.map(String::from));
        let new_remote = body
            .has("remote")
            .then(|| body.opt_str("remote"))
            .transpose()?
            .map(|r| r.map(String::from));
        let inline_given = ["protocol", "location", "credentials", "settings"]
            .iter()
            .any(|f| body.has(f));
        if let Some(parent) = new_parent {
            if parent.is_some() && parent != self.parent {
                self.clear_storage();
            }
            self.parent = parent;
        }
        if let Some(remote) = new_remote {
            if remote.is_some() && remote != self.remote {
                self.clear_storage();
            }
            self.remote = remote;
        } else if inline_given && self.remote.is_some() && !body.has("parent") {
            // Inline storage replaces the remote the pipe used.
            self.remote = None;
        }
        if body.has("protocol") {
            self.protocol = body.opt_str("protocol")?.map(String::from);
        }
        if body.has("location") {
            self.location = body.opt_str("location")?.map(String::from);
        }
        if body.has("credentials") {
            self.new_credentials = body.opt_object("credentials")?.cloned();
            if self.new_credentials.is_none() {
                self.stored_credentials = None;
            }
        }
        if body.has("settings") {
            self.settings = body.opt_object("settings")?.cloned();
        }
        if body.has("options") {
            self.options = body.opt_object("options")?.cloned().unwrap_or_default();
        }
        if let Some(schema) = body.map().get("schema") {
            self.schema = schema.clone();
        }
        Ok(())
    }

    fn clear_storage(&mut self) {
        self.remote = None;
        self.protocol = None;
        self.location = None;
        self.stored_credentials = None;
        self.settings = None;
    }
}
