//! The OpenDAL side of the SFTP service: the [`SftpBuilder`] `Operator::new` takes, and the
//! service's operations — stat, create_dir (every missing folder down the path), rename over
//! an existing file, and the reader, writer, lister and deleter of the sibling modules.

use std::sync::Arc;

use opendal::raw::{
    OpCopy, OpCreateDir, OpDelete, OpList, OpPresign, OpRead, OpRename, OpStat, OpWrite,
    RpCreateDir, RpPresign, RpRename, RpStat, Service, ServiceInfo, Timestamp, oio,
};
use opendal::{Builder, Capability, EntryMode, Metadata, MetadataBuilder, OperationContext};
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::FileAttributes;

use super::connection::{Channel, Pool};
use super::errors::{from_sftp, is_not_found, to_opendal};
use super::lister::SftpLister;
use super::reader::SftpReader;
use super::writer::SftpWriter;
use super::{Core, Settings};

/// Builds the SFTP service (see [`super::sftp_builder`]). `Default` only because OpenDAL's
/// `Builder` asks for it: a default builder has no settings and fails to build.
#[derive(Debug, Default)]
pub(crate) struct SftpBuilder {
    settings: Option<Settings>,
}

impl SftpBuilder {
    pub(super) fn new(settings: Settings) -> Self {
        Self {
            settings: Some(settings),
        }
    }
}

impl Builder for SftpBuilder {
    type Config = ();

    fn build(self) -> opendal::Result<impl Service> {
        let settings = self.settings.ok_or_else(|| {
            opendal::Error::new(opendal::ErrorKind::ConfigInvalid, "sftp: no settings")
        })?;
        let settings = Arc::new(settings);
        Ok(SftpBackend {
            core: Arc::new(Core {
                pool: Pool::new(settings.clone()),
                settings,
            }),
        })
    }
}

/// The service.
#[derive(Debug, Clone)]
pub(crate) struct SftpBackend {
    core: Arc<Core>,
}

impl Core {
    /// The server's path of `path` (relative to the root; a folder may end in `/`).
    pub(super) fn full_path(&self, path: &str) -> String {
        let relative = path.trim_matches('/');
        let root = &self.settings.root;
        if relative.is_empty() {
            if root.len() > 1 {
                root.trim_end_matches('/').to_string()
            } else {
                root.clone()
            }
        } else {
            format!("{root}{relative}")
        }
    }

    /// An SFTP channel of the connection.
    pub(super) async fn channel(&self) -> opendal::Result<Arc<Channel>> {
        self.pool.channel().await.map_err(to_opendal)
    }

    /// `e`, raised by `operation` on `path`, as an OpenDAL error.
    pub(super) fn error(&self, e: &SftpError, operation: &str, path: &str) -> opendal::Error {
        to_opendal(from_sftp(e, operation, path, &self.settings.place()))
    }

    /// Makes the folder `full` (a server path) and every missing folder above it.
    pub(super) async fn make_folders(&self, channel: &Channel, full: &str) -> opendal::Result<()> {
        let full = full.trim_end_matches('/');
        if full.is_empty() || is_folder(channel, full).await {
            return Ok(());
        }
        // Down from the deepest folder that exists.
        let mut missing = vec![full];
        let mut above = full;
        while let Some((parent, _)) = above.rsplit_once('/') {
            if parent.is_empty() || is_folder(channel, parent).await {
                break;
            }
            missing.push(parent);
            above = parent;
        }
        for folder in missing.into_iter().rev() {
            if let Err(e) = channel.sftp.mkdir(folder, FileAttributes::empty()).await {
                // Made meanwhile by a concurrent call: fine.
                if !is_folder(channel, folder).await {
                    return Err(self.error(&e, "create folder", folder));
                }
            }
        }
        Ok(())
    }
}

/// Whether the server path `full` is a folder.
async fn is_folder(channel: &Channel, full: &str) -> bool {
    channel
        .sftp
        .stat(full)
        .await
        .is_ok_and(|a| a.attrs.is_dir())
}

/// OpenDAL's metadata of SFTP attributes: a folder, or a file with its size and time.
pub(super) fn metadata_of(attrs: &FileAttributes) -> Metadata {
    let mut meta = if attrs.is_dir() {
        MetadataBuilder::dir()
    } else {
        MetadataBuilder::file(attrs.size.unwrap_or(0))
    };
    if let Some(time) = attrs
        .mtime
        .and_then(|s| Timestamp::from_second(s.into()).ok())
    {
        meta.last_modified(time);
    }
    meta.build()
}

impl Service for SftpBackend {
    type Reader = SftpReader;
    type Writer = SftpWriter;
    type Lister = SftpLister;
    type Deleter = oio::OneShotDeleter<SftpDeleter>;
    type Copier = ();
    type Composer = ();

    fn info(&self) -> ServiceInfo {
        ServiceInfo::new("sftp", &self.core.settings.root, "")
    }

    fn capability(&self) -> Capability {
        Capability {
            stat: true,
            read: true,
            write: true,
            write_can_multi: true,
            write_can_empty: true,
            write_can_append: true,
            create_dir: true,
            delete: true,
            list: true,
            rename: true,
            shared: true,
            ..Default::default()
        }
    }

    async fn create_dir(
        &self,
        _: &OperationContext,
        path: &str,
        _: OpCreateDir,
    ) -> opendal::Result<RpCreateDir> {
        let channel = self.core.channel().await?;
        self.core
            .make_folders(&channel, &self.core.full_path(path))
            .await?;
        Ok(RpCreateDir::default())
    }

    async fn stat(&self, _: &OperationContext, path: &str, _: OpStat) -> opendal::Result<RpStat> {
        let channel = self.core.channel().await?;
        let full = self.core.full_path(path);
        let attrs = channel
            .sftp
            .stat(full.as_str())
            .await
            .map_err(|e| self.core.error(&e, "stat", path))?
            .attrs;
        let meta = metadata_of(&attrs);
        if path.ends_with('/') && meta.mode() != EntryMode::DIR {
            return Err(opendal::Error::new(
                opendal::ErrorKind::NotFound,
                "not a folder",
            ));
        }
        Ok(RpStat::new(meta))
    }

    fn read(&self, _: &OperationContext, path: &str, _: OpRead) -> opendal::Result<Self::Reader> {
        Ok(SftpReader::new(self.core.clone(), path))
    }

    fn write(
        &self,
        _: &OperationContext,
        path: &str,
        args: OpWrite,
    ) -> opendal::Result<Self::Writer> {
        Ok(SftpWriter::new(self.core.clone(), path, args.append()))
    }

    fn delete(&self, _: &OperationContext) -> opendal::Result<Self::Deleter> {
        Ok(oio::OneShotDeleter::new(SftpDeleter {
            core: self.core.clone(),
        }))
    }

    fn list(&self, _: &OperationContext, path: &str, _: OpList) -> opendal::Result<Self::Lister> {
        Ok(SftpLister::new(self.core.clone(), path))
    }

    fn copy(
        &self,
        _: &OperationContext,
        _: &str,
        _: &str,
        _: OpCopy,
    ) -> opendal::Result<Self::Copier> {
        Err(unsupported())
    }

    async fn rename(
        &self,
        _: &OperationContext,
        from: &str,
        to: &str,
        _: OpRename,
    ) -> opendal::Result<RpRename> {
        let channel = self.core.channel().await?;
        let (source, target) = (self.core.full_path(from), self.core.full_path(to));
        let mut renamed = channel.rename_over(&source, &target).await;
        if renamed.as_ref().is_err_and(is_not_found)
            && let Some((folder, _)) = target.rsplit_once('/')
        {
            // The target's folder may be missing.
            self.core.make_folders(&channel, folder).await?;
            renamed = channel.rename_over(&source, &target).await;
        }
        renamed.map_err(|e| self.core.error(&e, "rename", from))?;
        Ok(RpRename::default())
    }

    async fn presign(
        &self,
        _: &OperationContext,
        _: &str,
        _: OpPresign,
    ) -> opendal::Result<RpPresign> {
        Err(unsupported())
    }
}

fn unsupported() -> opendal::Error {
    opendal::Error::new(
        opendal::ErrorKind::Unsupported,
        "operation is not supported",
    )
}

/// Deletes files (and empty folders, given with a trailing `/`); a missing one is no error.
pub(crate) struct SftpDeleter {
    core: Arc<Core>,
}

impl oio::OneShotDelete for SftpDeleter {
    async fn delete_once(&self, path: String, _: OpDelete) -> opendal::Result<()> {
        let channel = self.core.channel().await?;
        let full = self.core.full_path(&path);
        let removed = if path.ends_with('/') {
            channel.sftp.rmdir(full).await
        } else {
            channel.sftp.remove(full).await
        };
        match removed {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(self.core.error(&e, "delete", &path)),
        }
    }
}
