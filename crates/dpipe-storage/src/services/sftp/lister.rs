//! Listing one SFTP folder (OpenDAL lists recursively by listing each folder): its files
//! with size and time, its sub-folders with a trailing `/`; `.` and `..` left out. A missing
//! folder lists as empty, as on the other services.

use std::collections::VecDeque;
use std::sync::Arc;

use opendal::raw::oio;
use russh_sftp::protocol::StatusCode;

use super::Core;
use super::access::metadata_of;
use super::connection::Channel;
use super::errors::is_not_found;

/// Lists the folder `path` (relative to the root), opening it on the first call.
pub(crate) struct SftpLister {
    core: Arc<Core>,
    /// The folder, `/`-terminated; empty for the root.
    prefix: String,
    state: State,
}

enum State {
    Unopened,
    Open {
        channel: Arc<Channel>,
        handle: String,
        ready: VecDeque<oio::Entry>,
    },
    Done,
}

impl SftpLister {
    pub(super) fn new(core: Arc<Core>, path: &str) -> Self {
        let folder = path.trim_matches('/');
        Self {
            core,
            prefix: if folder.is_empty() {
                String::new()
            } else {
                format!("{folder}/")
            },
            state: State::Unopened,
        }
    }

    async fn open(&mut self) -> opendal::Result<()> {
        let channel = self.core.channel().await?;
        let full = self.core.full_path(&self.prefix);
        self.state = match channel.sftp.opendir(full).await {
            Ok(handle) => State::Open {
                channel,
                handle: handle.handle,
                ready: VecDeque::new(),
            },
            // A missing folder, or a file where the folder would be: nothing under it.
            Err(e) if is_not_found(&e) || is_failure(&e) => State::Done,
            Err(e) => return Err(self.core.error(&e, "list", &self.prefix)),
        };
        Ok(())
    }
}

impl Drop for SftpLister {
    /// Closes the folder of a listing left unfinished.
    fn drop(&mut self) {
        if let State::Open {
            channel, handle, ..
        } = &mut self.state
            && !handle.is_empty()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (channel, handle) = (channel.clone(), std::mem::take(handle));
            runtime.spawn(async move {
                let _ = channel.sftp.close(handle).await;
            });
        }
    }
}

/// SFTP's generic failure (OpenSSH's answer to opening a file as a folder).
fn is_failure(e: &russh_sftp::client::error::Error) -> bool {
    matches!(e, russh_sftp::client::error::Error::Status(s) if s.status_code == StatusCode::Failure)
}

impl oio::List for SftpLister {
    async fn next(&mut self) -> opendal::Result<Option<oio::Entry>> {
        loop {
            match &mut self.state {
                State::Unopened => self.open().await?,
                State::Done => return Ok(None),
                State::Open {
                    channel,
                    handle,
                    ready,
                } => {
                    if let Some(entry) = ready.pop_front() {
                        return Ok(Some(entry));
                    }
                    match channel.sftp.readdir(handle.as_str()).await {
                        Ok(name) => {
                            for file in name.files {
                                if file.filename == "." || file.filename == ".." {
                                    continue;
                                }
                                let meta = metadata_of(&file.attrs);
                                let slash = if meta.mode().is_dir() { "/" } else { "" };
                                let path = format!("{}{}{slash}", self.prefix, file.filename);
                                ready.push_back(oio::Entry::new(&path, meta));
                            }
                        }
                        Err(russh_sftp::client::error::Error::Status(s))
                            if s.status_code == StatusCode::Eof =>
                        {
                            let (channel, handle) = (channel.clone(), std::mem::take(handle));
                            self.state = State::Done;
                            let _ = channel.sftp.close(handle).await;
                        }
                        Err(e) => return Err(self.core.error(&e, "list", &self.prefix)),
                    }
                }
            }
        }
    }
}
