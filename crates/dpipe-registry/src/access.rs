//! Effective roles: what a caller may do on a pipe, from ownership along the pipe's chain and
//! the live grants on it and its ancestors (protocol §6).

use chrono::NaiveDate;
use dpipe_core::role::{Access, GrantRole, Role, is_live};
use dpipe_core::{Error, Result};
use dpipe_store::{GrantRecord, Grantee, PipeRecord};

use crate::tree::PipeTree;
use crate::{Caller, Registry, StoreResultExt};

/// Everything needed to judge one caller's rights on any pipe during one request.
pub(crate) struct AccessView<'a> {
    pub(crate) caller: &'a Caller,
    pub(crate) tree: PipeTree,
    grants: Vec<GrantRecord>,
    today: NaiveDate,
}

impl Registry {
    /// Loads the pipes and the grants that can reach `caller`.
    pub(crate) fn access_view<'a>(&self, caller: &'a Caller) -> Result<AccessView<'a>> {
        self.access_view_over(caller, PipeTree::load(self.store.as_ref())?)
    }

    /// Like [`Registry::access_view`], over the pipes that can reach `caller` only (its own,
    /// granted and public ones, with their descendants and ancestors): for listings, whose
    /// cost must grow with what the caller may see, not with the number of pipes.
    pub(crate) fn access_view_reaching<'a>(&self, caller: &'a Caller) -> Result<AccessView<'a>> {
        let pipes = self.store.pipes_reaching(caller.user_id()).or_internal()?;
        self.access_view_over(caller, PipeTree::of(pipes))
    }

    /// Like [`Registry::access_view`], over the pipe called `name` and its ancestors only:
    /// for requests about one pipe, whose cost must not grow with the number of pipes.
    pub(crate) fn access_view_of<'a>(
        &self,
        caller: &'a Caller,
        name: &str,
    ) -> Result<AccessView<'a>> {
        self.access_view_over(caller, PipeTree::load_named(self.store.as_ref(), name)?)
    }

    /// Like [`Registry::access_view`], over `tree` (e.g. one pipe's chain only).
    pub(crate) fn access_view_over<'a>(
        &self,
        caller: &'a Caller,
        tree: PipeTree,
    ) -> Result<AccessView<'a>> {
        Ok(AccessView {
            caller,
            tree,
            grants: self.store.grants_reaching(caller.user_id()).or_internal()?,
            today: self.clock.today(),
        })
    }
}

impl AccessView<'_> {
    /// The pipe called `name`; 404 when there is none, except to an anonymous caller, who
    /// gets the same 401 as for a pipe that exists but is not public: strangers cannot probe
    /// which names exist.
    pub(crate) fn pipe(&self, name: &str) -> Result<&PipeRecord> {
        self.tree.named(name).ok_or_else(|| match self.caller {
            Caller::Anonymous => Error::unauthenticated(),
            Caller::User(_) => Error::not_found(),
        })
    }

    /// The caller's effective role on `pipe`, `None` for no access.
    pub(crate) fn role(&self, pipe: &PipeRecord) -> Result<Option<Role>> {
        let chain = self.tree.chain(pipe)?;
        let user_id = self.caller.user_id();
        if chain.iter().any(|p| Some(p.owner_id) == user_id) {
            return Ok(Some(Role::Owner));
        }
        let role = self
            .grants
            .iter()
            .filter(|g| chain.iter().any(|p| p.id == g.pipe_id))
            .filter(|g| is_live(g.expiration_date, self.today))
            .filter_map(|g| {
                let role = GrantRole::parse(&g.role)?;
                match g.grantee {
                    Grantee::User(id) if Some(id) == user_id => Some(role.role()),
                    // A public entry gives access only as `read` (public write is disabled).
                    Grantee::Public if role == GrantRole::Read => Some(Role::Read),
                    _ => None,
                }
            })
            .max();
        Ok(role)
    }

    /// The last day the caller keeps `access` to `pipe` through what gives it today:
    /// `Some(None)` for no end (ownership, or a grant without expiration), `Some(Some(day))`
    /// for the latest expiration among the live grants that allow it, `None` without access.
    pub(crate) fn access_until(
        &self,
        pipe: &PipeRecord,
        access: Access,
    ) -> Result<Option<Option<NaiveDate>>> {
        let chain = self.tree.chain(pipe)?;
        let user_id = self.caller.user_id();
        if chain.iter().any(|p| Some(p.owner_id) == user_id) {
            return Ok(Some(None));
        }
        let mut until: Option<Option<NaiveDate>> = None;
        for grant in self
            .grants
            .iter()
            .filter(|g| chain.iter().any(|p| p.id == g.pipe_id))
            .filter(|g| is_live(g.expiration_date, self.today))
        {
            let Some(role) = GrantRole::parse(&grant.role) else {
                continue;
            };
            let counts = match grant.grantee {
                Grantee::User(id) => Some(id) == user_id && role.role().allows(access),
                Grantee::Public => role == GrantRole::Read && access == Access::Read,
                Grantee::Email(_) => false,
            };
            if counts {
                until = Some(match (until, grant.expiration_date) {
                    (Some(None), _) | (_, None) => None,
                    (Some(Some(a)), Some(b)) => Some(a.max(b)),
                    (None, Some(b)) => Some(b),
                });
            }
        }
        Ok(until)
    }

    /// The caller's role on `pipe` if it is at least `needed`; otherwise 401 for anonymous
    /// callers (logging in may help), 403 for everyone else.
    pub(crate) fn require(&self, pipe: &PipeRecord, needed: Role) -> Result<Role> {
        match self.role(pipe)? {
            Some(role) if role >= needed => Ok(role),
            _ if matches!(self.caller, Caller::Anonymous) => Err(Error::unauthenticated()),
            _ => Err(Error::forbidden()),
        }
    }
}
