//! The OpenDAL service of each protocol, configured from a [`Location`](crate::Location):
//! [`s3`], [`ftp`] and [`sftp`] (a `fs` location needs only its folder; see
//! [`Storage::connect`](crate::Storage::connect)).

pub(crate) mod ftp;
pub(crate) mod s3;
pub(crate) mod sftp;
