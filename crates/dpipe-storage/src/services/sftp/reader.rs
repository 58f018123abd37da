//! Reads of an SFTP file from any offset (whole files, ranges, resumed downloads), read ahead:
//! requests of the server's largest size are kept in flight, a few MiB of them, so that a
//! transfer is never one round trip per request.

use std::sync::Arc;

use std::collections::VecDeque;

use bytes::Bytes;
use opendal::raw::oio::ReadStream as _;
use opendal::raw::{RpRead, oio};
use opendal::{Buffer, BytesRange};
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{Data, FileAttributes, OpenFlags, StatusCode};
use tokio::task::JoinHandle;

use super::Core;
use super::connection::Channel;

/// Bytes of read requests in flight at once for one stream.
const BYTES_IN_FLIGHT: usize = 4 * 1024 * 1024;

/// Reads one file: each stream (a range) opens it and reads ahead.
pub(crate) struct SftpReader {
    core: Arc<Core>,
    path: String,
}

impl SftpReader {
    pub(super) fn new(core: Arc<Core>, path: &str) -> Self {
        Self {
            core,
            path: path.to_string(),
        }
    }
}

/// A file open on the server, closed when dropped.
pub(crate) struct OpenFile {
    pub(super) core: Arc<Core>,
    pub(super) channel: Arc<Channel>,
    pub(super) handle: String,
    pub(super) path: String,
}

impl OpenFile {
    /// Opens `path` with `flags`; the error names `operation`.
    pub(super) async fn open(
        core: Arc<Core>,
        channel: Arc<Channel>,
        path: &str,
        flags: OpenFlags,
        operation: &str,
    ) -> Result<Self, (russh_sftp::client::error::Error, opendal::Error)> {
        let full = core.full_path(path);
        match channel
            .sftp
            .open(full, flags, FileAttributes::empty())
            .await
        {
            Ok(handle) => Ok(Self {
                core,
                channel,
                handle: handle.handle,
                path: path.to_string(),
            }),
            Err(e) => {
                let translated = core.error(&e, operation, path);
                Err((e, translated))
            }
        }
    }

    /// Closes the file now, saying whether the server accepted it (a write's last word).
    pub(super) async fn close(mut self) -> opendal::Result<()> {
        let handle = std::mem::take(&mut self.handle);
        self.channel
            .sftp
            .close(handle)
            .await
            .map(|_| ())
            .map_err(|e| self.core.error(&e, "close", &self.path))
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        if self.handle.is_empty() {
            return;
        }
        let (channel, handle) = (self.channel.clone(), std::mem::take(&mut self.handle));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = channel.sftp.close(handle).await;
            });
        }
    }
}

impl SftpReader {
    async fn open_file(&self) -> opendal::Result<OpenFile> {
        let channel = self.core.channel().await?;
        OpenFile::open(
            self.core.clone(),
            channel,
            &self.path,
            OpenFlags::READ,
            "get",
        )
        .await
        .map_err(|(_, e)| e)
    }
}

impl oio::Read for SftpReader {
    async fn open(
        &self,
        range: BytesRange,
    ) -> opendal::Result<(RpRead, Box<dyn oio::ReadStreamDyn>)> {
        let file = Arc::new(self.open_file().await?);
        let stream = SftpReadStream {
            file,
            next: range.offset(),
            end: range.size().map(|size| range.offset() + size),
            window: VecDeque::new(),
            done: false,
        };
        Ok((RpRead::default(), Box::new(stream)))
    }

    async fn read(&self, range: BytesRange) -> opendal::Result<(RpRead, Buffer)> {
        let (rp, mut stream) = self.open(range).await?;
        let bytes = stream.read_all().await?;
        if range.size().is_some_and(|size| (bytes.len() as u64) < size) {
            return Err(opendal::Error::new(
                opendal::ErrorKind::RangeNotSatisfied,
                "range exceeds content length",
            ));
        }
        Ok((rp, bytes))
    }
}

/// One read request in flight: where it reads, how much, and its answer to come.
struct Request {
    offset: u64,
    wanted: usize,
    answer: JoinHandle<Result<Data, SftpError>>,
}

/// The bytes of one range of an open file, read ahead: requests are kept in flight so that
/// the server always has some to answer (see [`BYTES_IN_FLIGHT`]).
struct SftpReadStream {
    file: Arc<OpenFile>,
    /// Where the next request reads.
    next: u64,
    /// Where the range ends, if it has an end (else the file's end).
    end: Option<u64>,
    window: VecDeque<Request>,
    done: bool,
}

impl SftpReadStream {
    /// Sends requests until the window is full or the range is all asked for.
    fn fill(&mut self) {
        let step = self.file.channel.request_size as u64;
        let most = (BYTES_IN_FLIGHT / step as usize).max(16);
        while self.window.len() < most && self.end.is_none_or(|end| self.next < end) {
            let wanted = self.end.map_or(step, |end| step.min(end - self.next));
            let (file, offset) = (self.file.clone(), self.next);
            let answer = tokio::spawn(async move {
                file.channel
                    .sftp
                    .read(file.handle.as_str(), offset, wanted as u32)
                    .await
            });
            self.window.push_back(Request {
                offset,
                wanted: wanted as usize,
                answer,
            });
            self.next += wanted;
        }
    }

    /// Drops the requests in flight and asks again from `offset`.
    fn restart_at(&mut self, offset: u64) {
        for request in self.window.drain(..) {
            request.answer.abort();
        }
        self.next = offset;
    }
}

impl oio::ReadStream for SftpReadStream {
    async fn read(&mut self) -> opendal::Result<Buffer> {
        if self.done {
            return Ok(Buffer::new());
        }
        self.fill();
        let Some(request) = self.window.pop_front() else {
            self.done = true;
            return Ok(Buffer::new());
        };
        let answer = request.answer.await.map_err(|e| {
            opendal::Error::new(
                opendal::ErrorKind::Unexpected,
                format!("get {}: a read request failed: {e}", self.file.path),
            )
        })?;
        match answer {
            Ok(data) if data.data.is_empty() => {
                self.done = true;
                Ok(Buffer::new())
            }
            Ok(data) => {
                // A short answer (rare before the end): the requests after it read from the
                // wrong place; ask again from where it stopped.
                if data.data.len() < request.wanted {
                    self.restart_at(request.offset + data.data.len() as u64);
                }
                Ok(Buffer::from(Bytes::from(data.data)))
            }
            Err(SftpError::Status(s)) if s.status_code == StatusCode::Eof => {
                self.done = true;
                Ok(Buffer::new())
            }
            Err(e) => {
                self.done = true;
                Err(self.file.core.error(&e, "get", &self.file.path))
            }
        }
    }
}

impl Drop for SftpReadStream {
    fn drop(&mut self) {
        for request in self.window.drain(..) {
            request.answer.abort();
        }
    }
}
