//! The site's two logs, as CherryPy's `log.*` keys set them: the access
//! log (a line per request) and the error log (start-up, errors, connection
//! ends), each to a file (`log.access_file`, `log.error_file`, appended)
//! and, unless `log.screen` is `False`, to stderr.
//!
//! The access line is reseau's, not CherryPy's Apache-style one:
//! `PEER "METHOD TARGET VERSION" STATUS TIME ms`. Every piece of text that
//! came from the network is escaped before it gets here (`escape_debug`),
//! so a request cannot write a line of its own.
//!
//! Files are line-buffered: each line is one `write`, so a line is whole
//! in the file even if the process is killed.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, LineWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::config::LogSettings;
use crate::net::Log;

/// Where the site's log lines go.
#[derive(Debug)]
pub struct SiteLog {
    access: Option<Mutex<LineWriter<File>>>,
    error: Option<Mutex<LineWriter<File>>>,
    screen: bool,
    /// The server's buffered stderr, or nothing if `screen` is off.
    stderr: Log,
}

/// A log file that could not be opened.
#[derive(Debug)]
pub struct LogError {
    /// The file, as configured.
    pub path: PathBuf,
    /// What the system said.
    pub source: io::Error,
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot open the log file {}: {}",
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for LogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl Default for SiteLog {
    /// Everything on stderr, no file.
    fn default() -> Self {
        SiteLog {
            access: None,
            error: None,
            screen: true,
            stderr: Log::stderr(),
        }
    }
}

impl SiteLog {
    /// Opens (creates, appends to) the files of `settings`.
    pub fn open(settings: &LogSettings) -> Result<SiteLog, LogError> {
        Ok(SiteLog {
            access: settings.access_file.as_deref().map(open).transpose()?,
            error: settings.error_file.as_deref().map(open).transpose()?,
            screen: settings.screen,
            stderr: if settings.screen {
                Log::stderr()
            } else {
                Log::off()
            },
        })
    }

    /// Whether lines also go to stderr (`log.screen`).
    pub fn screen(&self) -> bool {
        self.screen
    }

    /// The server's stderr as `log.screen` sets it: the event loops'
    /// buffered [`Log`], or one that drops every line.
    pub fn stderr(&self) -> Log {
        self.stderr.clone()
    }

    /// An access line: to the access file, and to the buffered stderr if
    /// `log.screen` is on.
    pub fn access(&self, line: fmt::Arguments<'_>) {
        if let Some(file) = &self.access {
            let _ = writeln!(file.lock().unwrap_or_else(|e| e.into_inner()), "{line}");
        }
        self.stderr.line(format_args!("web: {line}"));
    }

    /// An error-log line: to the error file, and to stderr if `log.screen`
    /// is on.
    pub fn error(&self, line: fmt::Arguments<'_>) {
        if let Some(file) = &self.error {
            let _ = writeln!(file.lock().unwrap_or_else(|e| e.into_inner()), "{line}");
        }
        if self.screen {
            eprintln!("web: {line}");
        }
    }
}

fn open(path: &Path) -> Result<Mutex<LineWriter<File>>, LogError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(|file| Mutex::new(LineWriter::new(file)))
        .map_err(|source| LogError {
            path: path.to_owned(),
            source,
        })
}
