//! CherryPy's `staticdir` and `staticfile` tools: the files of a folder
//! under a URL prefix, or one file at one path, with content types,
//! validators and 304 answers, and no way out of the folder.
//!
//! `staticdir` takes the request path after its section (the config
//! section that set `tools.staticdir.dir`, see [`super::tree`]) as the
//! file's path in the folder, as CherryPy's `cherrypy.lib.static.staticdir`
//! does. That path is taken apart from the raw URL, segment by segment,
//! and each segment is percent-decoded on its own: a decoded segment that
//! holds `/`, `\`, `:` or NUL, or that is empty (but for a last one, a
//! folder's trailing `/`), `.` or `..`, is refused, so `%2e%2e` and `%2f`
//! get no further than a literal `..`. CherryPy answers 403 to a `..` that
//! would step out and decodes `%2f` into a separator; we answer neither
//! (the request goes on to the site's routes, which have no such page:
//! 404). The file found is then canonicalized (which resolves symlinks)
//! and must still be under the canonical folder, so a symlink pointing out
//! is refused too. A folder is never listed: it is answered with its
//! `tools.staticdir.index` file if one is set and exists, and the
//! section's own path without its trailing `/` is redirected (301) to the
//! path with it, as CherryPy's `trailing_slash` tool does after
//! `staticdir`.
//!
//! Content types are those of Python's `mimetypes` that CherryPy uses
//! (`text/css`, not `text/css; charset=utf-8`: CherryPy's encode tool
//! never sees a static file), except that a file of unknown type is
//! `application/octet-stream`, where CherryPy sends its default
//! `text/html` (which would let a browser run an uploaded file as a page).
//!
//! Only regular files are served: a FIFO, socket, device or folder under
//! the static folder is a 404, and is never opened in a way that can block
//! (see `lookup`).
//!
//! Validators: a strong ETag made of the file's size and modification time,
//! and `Last-Modified`. `If-None-Match` is checked first (RFC 9110 13.2.2);
//! `If-Modified-Since` only when there is no `If-None-Match`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use rouille::{Request, Response};

use super::tree::StaticDir;

/// What a static request came to.
#[derive(Debug)]
pub enum Lookup {
    /// A file, opened, with its validators.
    File {
        /// The file.
        file: File,
        /// Its content type.
        content_type: &'static str,
        /// The ETag, quoted.
        etag: String,
        /// Seconds since the epoch of its last modification.
        modified: u64,
    },
    /// No such file, or a path we refuse.
    NotFound,
}

/// Opens `path` if it is a file under `root` (canonical both, or `root`
/// `None` for a file named by the config itself).
fn lookup(root: Option<&Path>, path: &Path) -> Lookup {
    let Ok(found) = path.canonicalize() else {
        return Lookup::NotFound;
    };
    if root.is_some_and(|root| !found.starts_with(root)) {
        return Lookup::NotFound;
    }
    // Only regular files are served. A FIFO would block the open (and the
    // worker) until a writer comes; a device or socket is not a file to
    // send. So the kind is checked before opening, the open cannot block
    // (O_NONBLOCK, which changes nothing for reading a regular file), and
    // the kind is checked again on what was opened, in case the path was
    // replaced in between.
    if !std::fs::metadata(&found).is_ok_and(|meta| meta.is_file()) {
        return Lookup::NotFound;
    }
    let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&found)
    else {
        return Lookup::NotFound;
    };
    let Ok(meta) = file.metadata() else {
        return Lookup::NotFound;
    };
    if !meta.is_file() {
        return Lookup::NotFound;
    }
    let since_epoch = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    Lookup::File {
        file,
        content_type: content_type(&found),
        etag: format!(
            "\"{:x}-{:x}.{:x}\"",
            meta.len(),
            since_epoch.as_secs(),
            since_epoch.subsec_nanos()
        ),
        modified: since_epoch.as_secs(),
    }
}

/// `tools.staticdir` for a GET of `raw_path` (the whole URL path, still
/// percent-encoded): the file's answer, or `None` to let the site's
/// routes answer, as CherryPy's tool does when it finds nothing.
pub fn staticdir(request: &Request, dir: &StaticDir, raw_path: &str) -> Option<Response> {
    let branch = after_segments(raw_path, dir.section_segments);
    let (relative, folder_request) = safe_relative_path(branch)?;
    let root = dir.folder.canonicalize().ok()?;
    let path = root.join(&relative);
    if !folder_request && let Some(response) = answer(request, lookup(Some(&root), &path)) {
        return Some(response);
    }
    let index = dir.index.as_deref()?;
    let response = answer(request, lookup(Some(&root), &path.join(index)))?;
    if branch.is_empty() && !raw_path.ends_with('/') {
        let query = request.raw_query_string();
        let target = if query.is_empty() {
            format!("{raw_path}/")
        } else {
            format!("{raw_path}/?{query}")
        };
        return Some(Response::redirect_301(target));
    }
    Some(response)
}

/// `tools.staticfile`: the configured file, or `None` (no such file) to
/// let the site's routes answer.
pub fn staticfile(request: &Request, file: &Path) -> Option<Response> {
    answer(request, lookup(None, file))
}

/// The part of `raw_path` after its first `count` segments, without
/// leading slashes (CherryPy's `branch`).
fn after_segments(raw_path: &str, count: usize) -> &str {
    let mut rest = raw_path;
    for _ in 0..count {
        rest = rest.trim_start_matches('/');
        rest = rest
            .find('/')
            .map_or("", |slash| rest.get(slash..).unwrap_or(""));
    }
    rest.trim_start_matches('/')
}

/// Answers a GET for a file found: the file, or 304 when the client's copy
/// is current.
fn answer(request: &Request, found: Lookup) -> Option<Response> {
    let Lookup::File {
        file,
        content_type,
        etag,
        modified,
    } = found
    else {
        return None;
    };
    let last_modified = http_date(modified);
    let not_modified = match request.header("If-None-Match") {
        Some(tags) => etag_matches(tags, &etag),
        None => request
            .header("If-Modified-Since")
            .and_then(parse_http_date)
            .is_some_and(|since| modified <= since),
    };
    let response = if not_modified {
        Response {
            status_code: 304,
            headers: Vec::new(),
            data: rouille::ResponseBody::empty(),
            upgrade: None,
        }
    } else {
        Response::from_file(content_type, file)
    };
    Some(
        response
            .with_unique_header("ETag", etag)
            .with_unique_header("Last-Modified", last_modified)
            .with_unique_header("Cache-Control", "no-cache"),
    )
}

/// The decoded path below the static folder, and whether it names a
/// folder (it is empty or ends with `/`); `None` if any segment could step
/// out of the folder or means something to the file system.
fn safe_relative_path(raw_path: &str) -> Option<(PathBuf, bool)> {
    let mut path = PathBuf::new();
    if raw_path.is_empty() {
        return Some((path, true));
    }
    let (segments, folder) = match raw_path.strip_suffix('/') {
        Some(inner) => (inner, true),
        None => (raw_path, false),
    };
    for segment in segments.split('/') {
        let decoded = rouille::percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .ok()?;
        if decoded.is_empty()
            || decoded == "."
            || decoded == ".."
            || decoded.contains(['/', '\\', '\0', ':'])
        {
            return None;
        }
        path.push(decoded.as_ref());
    }
    if path.is_absolute() {
        return None;
    }
    Some((path, folder))
}

/// Weak comparison of `If-None-Match` (a list, or `*`) with our ETag.
fn etag_matches(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|tag| {
        tag == "*"
            || tag.strip_prefix("W/").unwrap_or(tag) == etag.strip_prefix("W/").unwrap_or(etag)
    })
}

/// The content type of a file, from its extension.
pub fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" | "mjs" => "text/javascript",
        "json" | "map" => "application/json",
        "txt" | "text" => "text/plain",
        "csv" => "text/csv",
        "md" => "text/markdown",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Seconds since the epoch as an HTTP date (IMF-fixdate,
/// `Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(secs: u64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS.get((days % 7) as usize).copied().unwrap_or("Thu");
    let month_name = MONTHS
        .get(month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("Jan");
    format!(
        "{weekday}, {day:02} {month_name} {year} {:02}:{:02}:{:02} GMT",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Parses an IMF-fixdate; the obsolete formats are ignored (`None`), which
/// only costs a full answer.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let mut parts = text.split_ascii_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as u64 + 1;
    let year: u64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':');
    let hours: u64 = clock.next()?.parse().ok()?;
    let minutes: u64 = clock.next()?.parse().ok()?;
    let seconds: u64 = clock.next()?.parse().ok()?;
    // Four-digit years, as IMF-fixdate has: the arithmetic below stays
    // far from overflowing whatever a client sends.
    if parts.next()? != "GMT"
        || !(1..=31).contains(&day)
        || !(1970..=9999).contains(&year)
        || hours > 23
    {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    Some(days * 86_400 + hours * 3600 + minutes.min(59) * 60 + seconds.min(60))
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`], for years from 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let year = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = year / 400;
    let yoe = year % 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        for secs in [0, 784_111_777, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(parse_http_date(&http_date(secs)), Some(secs));
        }
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("garbage"), None);
        assert_eq!(parse_http_date(""), None);
        // Years no client means, which would overflow the day count.
        assert_eq!(
            parse_http_date("Sun, 06 Nov 18446744073709551615 08:49:37 GMT"),
            None
        );
        assert_eq!(parse_http_date("Sun, 06 Nov 10000 08:49:37 GMT"), None);
    }

    #[test]
    fn paths_that_step_out_are_refused() {
        for bad in [
            "..",
            "../etc/passwd",
            "a/../../b",
            "%2e%2e/x",
            "%2E%2E%2Fx",
            "a%2fb",
            "a%5cb",
            "a\\b",
            "a%00b",
            "a//b",
            "a//",
            "/",
            "./a",
            "c:x",
            "%ff",
        ] {
            assert_eq!(safe_relative_path(bad), None, "{bad}");
        }
        assert_eq!(
            safe_relative_path("img/a%20b.png"),
            Some((PathBuf::from("img/a b.png"), false))
        );
        assert_eq!(
            safe_relative_path("img/"),
            Some((PathBuf::from("img"), true))
        );
        assert_eq!(safe_relative_path(""), Some((PathBuf::new(), true)));
    }

    #[test]
    fn the_branch_is_the_path_after_the_section() {
        assert_eq!(after_segments("/static/css/x.css", 1), "css/x.css");
        assert_eq!(after_segments("/x.css", 0), "x.css");
        assert_eq!(after_segments("/static", 1), "");
        assert_eq!(after_segments("/static/", 1), "");
        assert_eq!(after_segments("/static//a", 1), "a");
        assert_eq!(after_segments("/a/b/c/", 2), "c/");
        assert_eq!(after_segments("/a", 3), "");
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"a\"", "\"a\""));
        assert!(etag_matches("W/\"a\", \"b\"", "\"a\""));
        assert!(etag_matches("*", "\"a\""));
        assert!(!etag_matches("\"b\"", "\"a\""));
    }

    #[test]
    fn types() {
        assert_eq!(content_type(Path::new("a.CSS")), "text/css");
        assert_eq!(content_type(Path::new("a.wasm")), "application/wasm");
        assert_eq!(content_type(Path::new("a")), "application/octet-stream");
    }
}
