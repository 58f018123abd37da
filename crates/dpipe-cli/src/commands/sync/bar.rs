//! The progress bar of a pull, push or verify on stderr, fitted to the terminal's width, and
//! what it says while the storage is out of reach.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dpipe_client::sync::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::escape_value;

/// The progress bar of a pull or push on stderr: files and bytes done, rate, ETA. Hidden
/// when not `shown`. Bytes count when a whole file is through, not within a file.
pub(in crate::commands) struct Bar {
    bar: ProgressBar,
    shown: bool,
    files: AtomicUsize,
    done: AtomicUsize,
}

impl Bar {
    pub(in crate::commands) fn new(shown: bool) -> Bar {
        // Drawn from the first transfer on (see `start`), never before.
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        Bar {
            bar,
            shown,
            files: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
        }
    }
}

/// Terminals narrower than this get the compact bar: no room for the bytes, rate and ETA.
pub(super) const FULL_BAR_COLUMNS: u16 = 72;

/// The look of [`Bar`] on a terminal `columns` wide: the counts (and, when there is room,
/// bytes, rate and ETA) around a bar that takes the rest of the width (`wide_bar`), so that
/// the line fits the terminal and never wraps. `None` only if a template were wrong (then
/// indicatif's default is kept).
fn bar_style(columns: u16) -> Option<ProgressStyle> {
    let template = if columns >= FULL_BAR_COLUMNS {
        "{prefix}{msg} files [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}"
    } else {
        "{prefix}{msg} [{wide_bar}] {percent}%"
    };
    ProgressStyle::with_template(template)
        .ok()
        .map(|style| style.progress_chars("=> "))
}

/// What the bar shows before the counts while the storage is out of reach.
fn unreachable_note(down_for: Duration) -> String {
    format!("storage unreachable, retrying ({} s)… ", down_for.as_secs())
}

/// The width of the terminal on stderr; 80 when it has none.
fn stderr_columns() -> u16 {
    terminal_size::terminal_size_of(std::io::stderr()).map_or(80, |(width, _)| width.0)
}

impl Progress for Bar {
    fn start(&self, files: usize, bytes: u64) {
        self.files.store(files, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.bar.reset();
        self.bar.set_length(bytes);
        self.say(&format!("0/{files}"));
        if self.shown {
            if let Some(style) = bar_style(stderr_columns()) {
                self.bar.set_style(style);
            }
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
    fn file_done(&self, _path: &str, bytes: u64) {
        self.count();
        self.bar.inc(bytes);
    }
    fn file_failed(&self, _path: &str) {
        self.count();
    }
    fn unreachable(&self, down_for: Duration) {
        self.bar.set_prefix(unreachable_note(down_for));
    }
    fn reachable(&self) {
        self.bar.set_prefix("");
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Bar {
    fn count(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let files = self.files.load(Ordering::Relaxed);
        self.say(&format!("{done}/{files}"));
    }

    /// Sets the bar's message, escaped for the terminal like all output (see
    /// [`escape_value`]): every message goes through here.
    fn say(&self, message: &str) {
        self.bar.set_message(escape_value(message).into_owned());
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use indicatif::{ProgressBar, ProgressDrawTarget, TermLike};

    /// A terminal of a given width that keeps the lines drawn on it.
    #[derive(Debug, Clone)]
    struct Screen {
        width: u16,
        lines: Arc<Mutex<Vec<String>>>,
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, line: &str) -> io::Result<()> {
            self.write_str(line)
        }
        fn write_str(&self, text: &str) -> io::Result<()> {
            if !text.is_empty() {
                self.lines.lock().unwrap().push(text.to_string());
            }
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_progress_bar_fits_the_terminal_width() {
        for width in [40u16, 60, 100, 200] {
            let screen = Screen {
                width,
                lines: Arc::default(),
            };
            let bar = ProgressBar::with_draw_target(
                Some(20 << 20),
                ProgressDrawTarget::term_like(Box::new(screen.clone())),
            );
            bar.set_style(super::bar_style(width).expect("a valid template"));
            bar.set_message("3/11");
            bar.inc(5 << 20);
            bar.force_draw();
            let lines = screen.lines.lock().unwrap().clone();
            let line = lines.last().expect("the bar was drawn");
            let start = if width >= super::FULL_BAR_COLUMNS {
                "3/11 files [====="
            } else {
                "3/11 [====="
            };
            assert!(line.starts_with(start), "{line:?}");
            assert_eq!(line.chars().count(), usize::from(width), "{line:?}");
        }
    }

    #[test]
    fn the_progress_bar_says_while_the_storage_is_out_of_reach() {
        let screen = Screen {
            width: 120,
            lines: Arc::default(),
        };
        let bar = ProgressBar::with_draw_target(
            Some(20 << 20),
            ProgressDrawTarget::term_like(Box::new(screen.clone())),
        );
        bar.set_style(super::bar_style(120).expect("a valid template"));
        bar.set_message("3/11");
        bar.set_prefix(super::unreachable_note(std::time::Duration::from_millis(
            12_400,
        )));
        bar.force_draw();
        let line = screen.lines.lock().unwrap().last().cloned().unwrap();
        assert!(
            line.starts_with("storage unreachable, retrying (12 s)… 3/11 files ["),
            "{line:?}"
        );
        assert_eq!(line.chars().count(), 120, "{line:?}");
    }
}
