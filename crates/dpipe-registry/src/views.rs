//! The wire view of a pipe: storage resolved through its root, `options.remotepath`
//! computed, filters and schema inherited from the nearest ancestor that sets them, the
//! caller's role — and no credentials.

use dpipe_core::Result;
use dpipe_core::options::REMOTEPATH;
use dpipe_core::role::Role;
use dpipe_core::wire::PipeView;
use dpipe_store::PipeRecord;
use serde_json::{Map, Value};

use crate::access::AccessView;
use crate::tree::{Storage, StorageLookup};

/// Builds [`PipeView`]s, caching the remotes and owner names it reads.
pub(crate) struct Views<'a> {
    remotes: StorageLookup<'a>,
}

impl<'a> Views<'a> {
    pub(crate) fn new(remotes: StorageLookup<'a>) -> Views<'a> {
        Views { remotes }
    }

    /// The wire view of `pipe` for a caller holding `role`.
    pub(crate) fn pipe(
        &mut self,
        access: &AccessView<'_>,
        pipe: &PipeRecord,
        role: Role,
    ) -> Result<PipeView> {
        let chain = access.tree.chain(pipe)?;
        let root = chain[0];
        let storage = Storage::of_root(root, &mut self.remotes)?;
        let mut options = pipe.options.clone();
        // A child without include/exclude of its own reads with its nearest ancestor's.
        for key in ["include", "exclude"] {
            if !options.contains_key(key)
                && let Some(value) = chain.iter().rev().find_map(|p| p.options.get(key))
            {
                options.insert(key.to_string(), value.clone());
            }
        }
        options.insert(
            REMOTEPATH.to_string(),
            Value::String(storage.remotepath(&chain)),
        );
        let schema = chain
            .iter()
            .rev()
            .map(|p| &p.schema)
            .find(|s| s.as_object().is_some_and(|o| !o.is_empty()))
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        Ok(PipeView {
            name: pipe.name.clone(),
            protocol: storage.protocol.as_str().to_string(),
            location: storage.location.clone(),
            remote: storage.remote.clone(),
            parent: pipe
                .parent_id
                .and_then(|id| access.tree.by_id(id))
                .map(|p| p.name.clone()),
            parent_ultimate: root.name.clone(),
            options,
            schema,
            role: role.reported().to_string(),
            owner: self.remotes.owner_name(pipe.owner_id)?,
        })
    }
}
