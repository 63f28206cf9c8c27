//! CherryPy's config tree: which tool settings are in force for a URL path.
//!
//! A config file has a `[global]` section and any number of path sections
//! (`[/]`, `[/static]`, `[/static/css]`, `[/favicon.ico]`, ...). CherryPy's
//! dispatcher (`cherrypy/_cpdispatch.py`, `Dispatcher.find_handler`)
//! builds a request's settings by starting from the global ones and laying
//! over them, in order, the section of `/` and of every prefix of the path:
//! `/static/css/x.css` sees `[/static/css/x.css]` over `[/static/css]` over
//! `[/static]` over `[/]` over `[global]`, one key at a time. It walks one
//! segment further than the path, a last `index` (the name of the page
//! handler of a folder), so `[/static/index]` applies to `/static` too; we
//! walk it as well. Segments are percent-decoded, as CherryPy's
//! `path_info` is.
//!
//! `tools.staticdir` also needs to know *which* section set its `dir`
//! (CherryPy's hidden `tools.staticdir.section`): the part of the path
//! after that section is the file's path inside the folder. It is the
//! deepest section on the way that sets `tools.staticdir.dir`, `/` if only
//! `[global]` does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The tool settings one section sets; `None` is "not set here", so the
/// parents' value stays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolSettings {
    /// `tools.staticdir.on`.
    pub staticdir_on: Option<bool>,
    /// `tools.staticdir.root`: an absolute folder.
    pub staticdir_root: Option<PathBuf>,
    /// `tools.staticdir.dir`: absolute, or relative to the root.
    pub staticdir_dir: Option<PathBuf>,
    /// `tools.staticdir.index`: the file served for a folder.
    pub staticdir_index: Option<String>,
    /// `tools.staticfile.on`.
    pub staticfile_on: Option<bool>,
    /// `tools.staticfile.filename`: absolute, or relative to its root.
    pub staticfile_filename: Option<PathBuf>,
    /// `tools.staticfile.root`: an absolute folder.
    pub staticfile_root: Option<PathBuf>,
    /// `tools.gzip.on`.
    pub gzip_on: Option<bool>,
}

impl ToolSettings {
    /// `self` with every key that `over` sets replaced by its value.
    fn overlay(&mut self, over: &ToolSettings) {
        fn set<T: Clone>(into: &mut Option<T>, from: &Option<T>) {
            if let Some(value) = from {
                *into = Some(value.clone());
            }
        }
        set(&mut self.staticdir_on, &over.staticdir_on);
        set(&mut self.staticdir_root, &over.staticdir_root);
        set(&mut self.staticdir_dir, &over.staticdir_dir);
        set(&mut self.staticdir_index, &over.staticdir_index);
        set(&mut self.staticfile_on, &over.staticfile_on);
        set(&mut self.staticfile_filename, &over.staticfile_filename);
        set(&mut self.staticfile_root, &over.staticfile_root);
        set(&mut self.gzip_on, &over.gzip_on);
    }
}

/// What the tools do for one request path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathTools {
    /// `tools.staticdir`, when it is on and has a `dir`.
    pub staticdir: Option<StaticDir>,
    /// `tools.staticfile`'s file, when it is on and has a `filename`.
    pub staticfile: Option<PathBuf>,
    /// `tools.gzip.on`.
    pub gzip: bool,
}

/// A static folder in force for a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticDir {
    /// How many segments of the request path are the section's (0 for
    /// `/`): the rest is the file's path inside `folder`.
    pub section_segments: usize,
    /// `root` joined with `dir`.
    pub folder: PathBuf,
    /// `tools.staticdir.index`.
    pub index: Option<String>,
}

/// Every section of a config file, by path.
#[derive(Debug, Clone, Default)]
pub struct ConfigTree {
    global: ToolSettings,
    sections: HashMap<String, ToolSettings>,
    /// Where a relative `dir` or `filename` without a root is resolved
    /// (CherryPy refuses those with a 500 on each request; we use the
    /// config file's folder, so that `web/server.conf` works from any
    /// working directory).
    base: PathBuf,
}

impl ConfigTree {
    /// An empty tree: no tool is on anywhere; relative paths without a
    /// root are resolved against `base`.
    pub fn new(base: PathBuf) -> ConfigTree {
        ConfigTree {
            base,
            ..ConfigTree::default()
        }
    }

    /// A tree whose only section is `[/static]`, serving `folder`.
    pub fn static_folder(folder: PathBuf) -> ConfigTree {
        let mut tree = ConfigTree::new(PathBuf::from("."));
        *tree.section_mut(Some("/static")) = ToolSettings {
            staticdir_on: Some(true),
            staticdir_dir: Some(folder),
            ..ToolSettings::default()
        };
        tree
    }

    /// The settings of `[global]` (`None`) or of a path section (`/`, or a
    /// path without a trailing `/`, the only ones CherryPy ever applies),
    /// made empty if the file has not had it yet.
    pub fn section_mut(&mut self, path: Option<&str>) -> &mut ToolSettings {
        match path {
            None => &mut self.global,
            Some(path) => self.sections.entry(path.to_owned()).or_default(),
        }
    }

    /// `[global]` (`None`), then each path section in path order: every
    /// section that sets a tool key (sections the file only named, or that
    /// set only `tools.encode.*`, set nothing and are left out).
    pub fn sections(&self) -> Vec<(Option<&str>, &ToolSettings)> {
        let mut paths: Vec<&String> = self
            .sections
            .iter()
            .filter(|(_, tools)| **tools != ToolSettings::default())
            .map(|(path, _)| path)
            .collect();
        paths.sort();
        let mut all = Vec::with_capacity(paths.len() + 1);
        if self.global != ToolSettings::default() {
            all.push((None, &self.global));
        }
        for path in paths {
            if let Some(tools) = self.sections.get(path) {
                all.push((Some(path.as_str()), tools));
            }
        }
        all
    }

    /// Whether any section, or `[global]`, sets `tools.staticdir.dir`.
    pub fn has_staticdir(&self) -> bool {
        self.global.staticdir_dir.is_some()
            || self.sections.values().any(|s| s.staticdir_dir.is_some())
    }

    /// The section paths of the file, and `/` for `[global]`: where the
    /// site checks at start that each static folder in force exists.
    pub fn section_paths(&self) -> impl Iterator<Item = &str> {
        std::iter::once("/").chain(self.sections.keys().map(String::as_str))
    }

    /// The tools in force for a request path (`/static/css/x.css`, still
    /// percent-encoded: it is split on `/` first, then each segment is
    /// decoded).
    pub fn tools(&self, raw_path: &str) -> PathTools {
        let (merged, section_segments) = self.merged(raw_path);
        self.resolve(&merged, section_segments)
    }

    /// The settings in force at `raw_path`, and how many of its segments
    /// are the section that set `tools.staticdir.dir`.
    pub fn merged(&self, raw_path: &str) -> (ToolSettings, usize) {
        let segments: Vec<String> = raw_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                rouille::percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        self.merged_segments(&segments)
    }

    /// The settings in force at a section's own path: a section name is a
    /// decoded path already, so it is not percent-decoded again (a section
    /// `[/100%cd]` is what the request `/100%25cd` reaches).
    pub fn merged_section(&self, path: &str) -> (ToolSettings, usize) {
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        self.merged_segments(&segments)
    }

    fn merged_segments(&self, segments: &[String]) -> (ToolSettings, usize) {
        let mut merged = self.global.clone();
        let mut section_segments = 0;
        let mut path = String::from("/");
        if let Some(root) = self.sections.get("/") {
            merged.overlay(root);
        }
        // CherryPy's walk goes one segment past the path: `index`.
        let index = "index".to_owned();
        for (depth, segment) in segments.iter().chain([&index]).enumerate() {
            if depth > 0 {
                path.push('/');
            }
            path.push_str(segment);
            if let Some(section) = self.sections.get(&path) {
                merged.overlay(section);
                if section.staticdir_dir.is_some() {
                    section_segments = depth + 1;
                }
            }
        }
        (merged, section_segments)
    }

    fn resolve(&self, merged: &ToolSettings, section_segments: usize) -> PathTools {
        let staticdir = match (&merged.staticdir_on, &merged.staticdir_dir) {
            (Some(true), Some(dir)) => Some(StaticDir {
                section_segments,
                folder: self.join(merged.staticdir_root.as_deref(), dir),
                index: merged.staticdir_index.clone().filter(|i| !i.is_empty()),
            }),
            _ => None,
        };
        let staticfile = match (&merged.staticfile_on, &merged.staticfile_filename) {
            (Some(true), Some(file)) => Some(self.join(merged.staticfile_root.as_deref(), file)),
            _ => None,
        };
        PathTools {
            staticdir,
            staticfile,
            gzip: merged.gzip_on == Some(true),
        }
    }

    /// `path` if absolute, else joined to `root` (or to the config file's
    /// folder without one).
    fn join(&self, root: Option<&Path>, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            root.unwrap_or(&self.base).join(path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(on: bool, dir: &str) -> ToolSettings {
        ToolSettings {
            staticdir_on: Some(on),
            staticdir_dir: Some(PathBuf::from(dir)),
            ..ToolSettings::default()
        }
    }

    #[test]
    fn a_path_sees_its_section_over_its_parents() {
        let mut tree = ConfigTree::new(PathBuf::from("/conf"));
        tree.section_mut(Some("/")).staticdir_root = Some(PathBuf::from("/srv"));
        *tree.section_mut(Some("/static")) = dir(true, "public");
        tree.section_mut(Some("/static/css")).gzip_on = Some(true);
        let css = tree.tools("/static/css/x.css");
        assert_eq!(
            css.staticdir,
            Some(StaticDir {
                section_segments: 1,
                folder: PathBuf::from("/srv/public"),
                index: None,
            })
        );
        assert!(css.gzip);
        assert!(!tree.tools("/static/js/x.js").gzip);
        assert_eq!(tree.tools("/other").staticdir, None);
    }

    #[test]
    fn a_child_overrides_its_parent() {
        let mut tree = ConfigTree::new(PathBuf::from("/conf"));
        *tree.section_mut(Some("/static")) = dir(true, "/a");
        tree.section_mut(Some("/static/private")).staticdir_on = Some(false);
        assert!(tree.tools("/static/x").staticdir.is_some());
        assert_eq!(tree.tools("/static/private/x").staticdir, None);
    }

    #[test]
    fn the_section_is_the_deepest_that_sets_dir() {
        let mut tree = ConfigTree::new(PathBuf::from("/conf"));
        *tree.section_mut(Some("/")) = dir(true, "/site");
        tree.section_mut(Some("/docs")).staticdir_dir = Some(PathBuf::from("/docs"));
        let tools = tree.tools("/docs/a/b.txt").staticdir.unwrap();
        assert_eq!(tools.section_segments, 1);
        assert_eq!(tools.folder, PathBuf::from("/docs"));
        assert_eq!(
            tree.tools("/a/b.txt").staticdir.unwrap().section_segments,
            0
        );
        // [global] counts as "/".
        let mut global = ConfigTree::new(PathBuf::from("/conf"));
        *global.section_mut(None) = dir(true, "/g");
        assert_eq!(global.tools("/x").staticdir.unwrap().section_segments, 0);
    }

    #[test]
    fn relative_paths_without_a_root_are_the_config_files() {
        let mut tree = ConfigTree::new(PathBuf::from("/conf"));
        *tree.section_mut(Some("/static")) = dir(true, "public");
        let favicon = tree.section_mut(Some("/favicon.ico"));
        favicon.staticfile_on = Some(true);
        favicon.staticfile_filename = Some(PathBuf::from("img/f.ico"));
        assert_eq!(
            tree.tools("/static/a").staticdir.unwrap().folder,
            PathBuf::from("/conf/public")
        );
        assert_eq!(
            tree.tools("/favicon.ico").staticfile,
            Some(PathBuf::from("/conf/img/f.ico"))
        );
        tree.section_mut(Some("/favicon.ico")).staticfile_root = Some(PathBuf::from("/r"));
        assert_eq!(
            tree.tools("/favicon.ico").staticfile,
            Some(PathBuf::from("/r/img/f.ico"))
        );
    }

    #[test]
    fn segments_are_decoded_and_the_walk_ends_with_index() {
        let mut tree = ConfigTree::new(PathBuf::from("/conf"));
        tree.section_mut(Some("/a b")).gzip_on = Some(true);
        tree.section_mut(Some("/docs/index")).gzip_on = Some(true);
        assert!(tree.tools("/a%20b/x").gzip);
        assert!(tree.tools("/docs").gzip);
        assert!(tree.tools("/docs/").gzip);
        assert!(!tree.tools("/docs/other").gzip);
    }
}
