//! Writes of an SFTP file: created (or truncated), or appended to (a resumed upload of a
//! `.dpipe-*.part` key continues at the file's end); its folder made when missing. Bytes go
//! out as requests of the server's largest size, several in flight at once, each at its
//! explicit offset (so appends never depend on the order the server applies them).

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Buf as _;
use opendal::raw::oio;
use opendal::{Buffer, Metadata, MetadataBuilder};
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::OpenFlags;
use tokio::task::JoinHandle;

use super::Core;
use super::errors::is_not_found;
use super::reader::OpenFile;

/// Bytes of write requests in flight at once for one file.
const BYTES_IN_FLIGHT: usize = 4 * 1024 * 1024;

/// Writes one file, opened on the first call.
pub(crate) struct SftpWriter {
    core: Arc<Core>,
    path: String,
    append: bool,
    file: Option<OpenFile>,
    /// Where the next byte goes.
    offset: u64,
    in_flight: VecDeque<JoinHandle<Result<(), SftpError>>>,
}

impl SftpWriter {
    pub(super) fn new(core: Arc<Core>, path: &str, append: bool) -> Self {
        Self {
            core,
            path: path.to_string(),
            append,
            file: None,
            offset: 0,
            in_flight: VecDeque::new(),
        }
    }

    /// The open file: opened (its folder made if missing) on first use; an append starts
    /// at the file's end.
    async fn file(&mut self) -> opendal::Result<&OpenFile> {
        if self.file.is_none() {
            let flags = if self.append {
                OpenFlags::WRITE | OpenFlags::CREATE
            } else {
                OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE
            };
            let channel = self.core.channel().await?;
            let core = self.core.clone();
            let opened =
                match OpenFile::open(core.clone(), channel.clone(), &self.path, flags, "put").await
                {
                    Err((e, _)) if is_not_found(&e) => {
                        let full = core.full_path(&self.path);
                        if let Some((folder, _)) = full.rsplit_once('/') {
                            core.make_folders(&channel, folder).await?;
                        }
                        OpenFile::open(core, channel, &self.path, flags, "put").await
                    }
                    other => other,
                };
            let file = opened.map_err(|(_, e)| e)?;
            if self.append {
                self.offset = file
                    .channel
                    .sftp
                    .fstat(file.handle.as_str())
                    .await
                    .map_err(|e| self.core.error(&e, "put", &self.path))?
                    .attrs
                    .size
                    .unwrap_or(0);
            }
            self.file = Some(file);
        }
        Ok(self.file.as_ref().expect("opened just above"))
    }

    /// Waits for the oldest request in flight.
    async fn settle_one(&mut self) -> opendal::Result<()> {
        let Some(request) = self.in_flight.pop_front() else {
            return Ok(());
        };
        match request.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.core.error(&e, "put", &self.path)),
            Err(e) => Err(opendal::Error::new(
                opendal::ErrorKind::Unexpected,
                format!("put {}: a write request failed: {e}", self.path),
            )),
        }
    }

    /// Waits for every request in flight; the first error, if any.
    async fn settle_all(&mut self) -> opendal::Result<()> {
        let mut first = Ok(());
        while !self.in_flight.is_empty() {
            let settled = self.settle_one().await;
            if first.is_ok() {
                first = settled;
            }
        }
        first
    }
}

impl oio::Write for SftpWriter {
    async fn write(&mut self, mut bs: Buffer) -> opendal::Result<()> {
        let file = self.file().await?;
        let (channel, handle) = (file.channel.clone(), file.handle.clone());
        let step = channel.request_size as usize;
        let most_in_flight = (BYTES_IN_FLIGHT / step).max(4);
        while bs.has_remaining() {
            let len = step.min(bs.remaining());
            let data = bs.copy_to_bytes(len).to_vec();
            let (channel, handle, at) = (channel.clone(), handle.clone(), self.offset);
            self.in_flight.push_back(tokio::spawn(async move {
                channel.sftp.write(handle, at, data).await.map(|_| ())
            }));
            self.offset += len as u64;
            if self.in_flight.len() >= most_in_flight {
                self.settle_one().await?;
            }
        }
        Ok(())
    }

    async fn close(&mut self) -> opendal::Result<Metadata> {
        self.file().await?;
        self.settle_all().await?;
        if let Some(file) = self.file.take() {
            file.close().await?;
        }
        Ok(MetadataBuilder::file(self.offset).build())
    }

    async fn abort(&mut self) -> opendal::Result<()> {
        let _ = self.settle_all().await;
        if let Some(file) = self.file.take() {
            file.close().await?;
        }
        Ok(())
    }
}
