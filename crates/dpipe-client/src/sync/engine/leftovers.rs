//! What interrupted pushes left on a pipe's storage — temporary keys, unfinished S3 uploads —
//! older than [`Tuning::leftover_age`](dpipe_storage::Tuning::leftover_age): removed by the
//! next push once its own transfers are done (so that a push of the same file version first
//! continues the upload whatever its age), listed by a preview. A failure to list or remove
//! them does not fail the push: the report says it.

use dpipe_core::role::Access;
use dpipe_storage::Location;

use super::Syncer;
use crate::sync::location::storage_error;
use crate::sync::report::SyncReport;

impl Syncer<'_> {
    /// Lists the leftovers on the storage of `pipe` at `location` (reached with `access`
    /// credentials) and, when `remove`, removes them; records them in `report`.
    pub(super) fn sweep_leftovers(
        &self,
        pipe: &str,
        location: &Location,
        access: Access,
        remove: bool,
        report: &mut SyncReport,
    ) {
        let age = self.tuning.leftover_age;
        let swept = self.connect(location, pipe, access).and_then(|storage| {
            self.runtime
                .block_on(async {
                    let found = storage.leftovers(age).await?;
                    if remove {
                        storage.remove_leftovers(&found).await?;
                    }
                    Ok(found)
                })
                .map_err(storage_error(pipe, access))
        });
        match swept {
            Ok(found) => report.leftovers = found.iter().map(ToString::to_string).collect(),
            Err(e) => report.leftovers_error = Some(e.to_string()),
        }
    }
}
