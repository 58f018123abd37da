//! FTP: `host[:port]`, root, username and password.

use opendal::services;

use crate::error::Result;
use crate::location::Location;
use crate::operator::config;

pub(crate) fn ftp_builder(location: &Location, root: &str) -> Result<services::Ftp> {
    if location.location.is_empty() {
        return Err(config("ftp: the location (host[:port]) is empty"));
    }
    let mut b = services::Ftp::default()
        .endpoint(&format!("ftp://{}", location.location))
        .root(root);
    if let Some(user) = location.cred("username") {
        b = b.user(user);
    }
    if let Some(password) = location.cred("password") {
        b = b.password(password);
    }
    Ok(b)
}
