//! How credentials are kept in the store: as their JSON text. This is the one place that
//! turns [`Credentials`] into stored text and back, so encryption at rest wraps here.

use dpipe_core::credentials::Credentials;
use dpipe_core::{Error, Result};

/// The stored form of `credentials`.
pub(crate) fn encode(credentials: Option<&Credentials>) -> Option<String> {
    credentials.map(|c| c.to_value().to_string())
}

/// Reads back what [`encode`] stored.
pub(crate) fn decode(stored: Option<&str>) -> Result<Option<Credentials>> {
    stored
        .map(|text| {
            serde_json::from_str(text)
                .ok()
                .and_then(|value| Credentials::from_stored(&value))
                .ok_or_else(|| Error::internal("stored credentials are unreadable"))
        })
        .transpose()
}
