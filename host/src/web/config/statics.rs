//! The static-folder rules: what the file's `tools.staticdir` and
//! `tools.staticfile` sections must hold, checked once the whole file is
//! read (a parent section may give what a child lacks), and the site's own
//! static folder for a file that names none.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::LineError;
use super::tokens::{Literal, Section, section_name};
use super::tree::ConfigTree;

/// Where an installed copy of reseau keeps the site's static files, if
/// it says so ([`set_installed_static_dir`]).
static INSTALLED: OnceLock<PathBuf> = OnceLock::new();

/// Says where this installation keeps the site's static files: the Python
/// package ships them in its own folder (`reseau/public`), since a wheel
/// runs on machines where the source tree it was built from is not.
/// The first call wins.
pub fn set_installed_static_dir(dir: PathBuf) {
    let _ = INSTALLED.set(dir);
}

/// The static folder when no config file names one: `web/public` under the
/// working directory if there is one (a site of one's own), else the
/// installation's ([`set_installed_static_dir`]: the Python package's),
/// else the repository's own `web/public` (`cargo run` from anywhere).
/// Absolute: a config file's relative folders are resolved against the
/// file's own folder, and this one is not the file's.
pub fn default_static_dir() -> PathBuf {
    let local = Path::new("web").join("public");
    if local.is_dir() {
        return std::path::absolute(&local).unwrap_or(local);
    }
    match INSTALLED.get() {
        Some(installed) if installed.is_dir() => installed.clone(),
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/public")),
    }
}

/// A static tool and the key it cannot work without.
#[derive(Debug, Clone, Copy)]
enum Tool {
    /// `tools.staticdir`, which needs `tools.staticdir.dir`.
    Dir,
    /// `tools.staticfile`, which needs `tools.staticfile.filename`.
    File,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Dir => "tools.staticdir",
            Tool::File => "tools.staticfile",
        }
    }

    fn needs(self) -> &'static str {
        match self {
            Tool::Dir => "tools.staticdir.dir",
            Tool::File => "tools.staticfile.filename",
        }
    }
}

/// Where the file turns a static tool on: each must find its folder or
/// file there, in the section or a parent.
#[derive(Debug, Default)]
pub(super) struct TurnedOn {
    places: Vec<(Tool, Section, usize)>,
}

impl TurnedOn {
    /// Notes a key the file set (once it is accepted): `tools.staticdir.on:
    /// True` or `tools.staticfile.on: True` at `line` of `section`.
    pub fn note(&mut self, key: &str, value: &Literal, section: &Section, line: usize) {
        let tool = match key {
            "tools.staticdir.on" => Tool::Dir,
            "tools.staticfile.on" => Tool::File,
            _ => return,
        };
        if *value == Literal::Bool(true) {
            self.places.push((tool, section.clone(), line));
        }
    }

    /// The first place, in the file's order, where a tool is on without
    /// its folder or file. CherryPy would answer
    /// 500 to every request there (the tool's argument is missing); we say
    /// so at start instead.
    pub fn check(&self, tree: &ConfigTree) -> Result<(), LineError> {
        for (tool, section, line) in &self.places {
            let (merged, _) = tree.merged_section(section.as_deref().unwrap_or("/"));
            let missing = match tool {
                Tool::Dir => merged.staticdir_on == Some(true) && merged.staticdir_dir.is_none(),
                Tool::File => {
                    merged.staticfile_on == Some(true) && merged.staticfile_filename.is_none()
                }
            };
            if missing {
                return Err(LineError::new(
                    *line,
                    format!(
                        "{} has {}.on: True but no {}, in it or a parent section",
                        section_name(section),
                        tool.name(),
                        tool.needs()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A file that names no static folder keeps the site's own at `/static`,
/// as before path sections existed (the course's first server.conf has
/// only a port).
pub(super) fn keep_own_folder(tree: &mut ConfigTree) {
    if !tree.has_staticdir() {
        let own = tree.section_mut(Some("/static"));
        if own.staticdir_on.is_none() {
            own.staticdir_on = Some(true);
            own.staticdir_dir = Some(default_static_dir());
        }
    }
}
