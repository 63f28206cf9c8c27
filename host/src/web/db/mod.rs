//! The site's users: one storage interface, two engines.
//!
//! The course keeps its users in a Python list (`['CBF', 'LUR', 'VRL']`) and
//! forgets every addition at restart; here they live in a database: a SQLite
//! file by default ([`sqlite`], nothing to install, one machine), or
//! PostgreSQL ([`postgres`], for several instances on one database). The
//! [`Location`] picks: a `postgresql://` or `postgres://` URL is PostgreSQL,
//! anything else a SQLite file path.
//!
//! Both engines keep the same meaning: one `users` table whose ids the
//! database gives in increasing order, a UNIQUE constraint on the name (so a
//! duplicate is refused by the database itself, atomically, never by a
//! check-then-insert that two instances could both pass), the three course
//! users in a new database, a write acknowledged only once committed, and
//! pages ordered by id. [`Store`] is what the API calls; [`Db`] holds the
//! one in use.
//!
//! Errors: [`DbError::Duplicate`] and [`DbError::NotFound`] are the
//! client's (409, 404); every other error means the database could not do
//! the work (unreachable, timed out, disk full): the API answers 503
//! "database unavailable" and logs the cause, whose text never holds a
//! password ([`Location`]'s `Display` masks it).

pub mod postgres;
pub mod sqlite;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The most any one database call waits: for a connection from the pool,
/// for a connection to open, for a statement to run, for a SQLite writer
/// lock. A database that does not answer within it is "unavailable".
pub const DB_TIMEOUT: Duration = Duration::from_secs(5);

/// How long `/healthz` waits for the database's answer to its ping.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// One user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    /// Its id, given by the database in increasing order (SQLite may give
    /// the highest id again once its user is deleted; PostgreSQL's
    /// sequence never gives an id twice).
    pub id: i64,
    /// Its name, unique.
    pub name: String,
}

/// One page of users and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The users of the page, by id.
    pub users: Vec<User>,
    /// Users in the whole table.
    pub total: u64,
}

/// What the API asks of the database. Each call is one transaction of its
/// own; a write returns `Ok` only once committed.
pub trait Store: fmt::Debug + Send + Sync {
    /// Every user's name, by id (the course's `/listusers`).
    fn names(&self) -> Result<Vec<String>, DbError>;
    /// Users `offset..offset + limit` by id, and the total, read from one
    /// snapshot so they agree.
    fn page(&self, offset: u64, limit: u64) -> Result<Page, DbError>;
    /// The user with this id; [`DbError::NotFound`].
    fn get(&self, id: i64) -> Result<User, DbError>;
    /// Adds a user; [`DbError::Duplicate`] if the name is taken.
    fn insert(&self, name: &str) -> Result<User, DbError>;
    /// Renames a user; [`DbError::NotFound`] or [`DbError::Duplicate`].
    fn rename(&self, id: i64, name: &str) -> Result<User, DbError>;
    /// Deletes a user; [`DbError::NotFound`] if there is none.
    fn delete(&self, id: i64) -> Result<(), DbError>;
    /// `SELECT 1`, answered within [`PING_TIMEOUT`] (`/healthz`).
    fn ping(&self) -> Result<(), DbError>;
}

/// Where the users are: the value of `--db` and `reseau.db`.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgresql://USER:PASSWORD@HOST:PORT/DB?...`),
    /// kept whole to connect with; shown with its password masked.
    Postgres(String),
}

impl Location {
    /// A `postgresql://` or `postgres://` URL is PostgreSQL; anything else
    /// a SQLite file path.
    pub fn parse(value: &str) -> Location {
        if value.starts_with("postgresql://") || value.starts_with("postgres://") {
            Location::Postgres(value.to_owned())
        } else {
            Location::Sqlite(PathBuf::from(value))
        }
    }

    /// The value as written (the password too: for writing the config
    /// back, never for a message).
    pub fn as_written(&self) -> String {
        match self {
            Location::Sqlite(path) => path.to_string_lossy().into_owned(),
            Location::Postgres(url) => url.clone(),
        }
    }
}

/// The path, or the URL with its password masked.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => path.display().fmt(f),
            Location::Postgres(url) => f.write_str(&mask_password(url)),
        }
    }
}

/// As `Display`: a `Debug` print of the settings must not show the password.
impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "Sqlite({path:?})"),
            Location::Postgres(_) => write!(f, "Postgres({self})"),
        }
    }
}

/// The URL with `***` for the password of its user info
/// (`USER:PASSWORD@`) and for the value of a `password=` query parameter.
///
/// It masks at least what the `postgres` crate reads as the password,
/// which is looser than a URL: the user info runs to the *first* `@`
/// anywhere, even past the `?`, and a parameter's key is percent-decoded
/// (`pass%77ord=` is `password=`). Here the user info runs to the last `@`
/// before the `?` (so a password holding a raw `@` or `/` is masked whole),
/// or, when there is none, to the first `@` after it; and a key is
/// compared once percent-decoded, in any case. The fuzz target `db_url`
/// checks that the crate finds no password but `***` in what this returns.
pub fn mask_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let query_at = rest.find('?').unwrap_or(rest.len());
    let before_query = rest.get(..query_at).unwrap_or(rest);
    let userinfo_end = before_query.rfind('@').or_else(|| rest.find('@'));
    let mut out = format!("{scheme}://");
    let after_userinfo = match userinfo_end {
        Some(at) => {
            let userinfo = rest.get(..at).unwrap_or_default();
            match userinfo.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:***")),
                None => out.push_str(userinfo),
            }
            out.push('@');
            rest.get(at + 1..).unwrap_or_default()
        }
        None => rest,
    };
    let (address, query) = match after_userinfo.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (after_userinfo, None),
    };
    out.push_str(address);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_password_key(key) => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

/// Whether a query key, percent-decoded, is `password` (in any case).
fn is_password_key(key: &str) -> bool {
    let mut decoded = Vec::with_capacity(key.len());
    let mut bytes = key.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let mut lookahead = bytes.clone();
            let hex = |c: Option<u8>| c.and_then(|c| char::from(c).to_digit(16));
            if let (Some(hi), Some(lo)) = (hex(lookahead.next()), hex(lookahead.next())) {
                decoded.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                bytes = lookahead;
                continue;
            }
        }
        decoded.push(b);
    }
    decoded.eq_ignore_ascii_case(b"password")
}

/// Why a database call failed.
#[derive(Debug)]
pub enum DbError {
    /// The database could not be opened, reached or set up.
    Open {
        /// Where (its password masked).
        location: String,
        /// What the engine said.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The database was set up by a newer reseau.
    NewerSchema {
        /// Where (its password masked).
        location: String,
        /// Its schema version.
        found: i64,
        /// The newest version this program knows.
        known: i64,
    },
    /// Another user already has this name.
    Duplicate(String),
    /// No user has this id.
    NotFound(i64),
    /// Any other SQLite failure.
    Sqlite(rusqlite::Error),
    /// Any other PostgreSQL failure (unreachable, timed out, ...).
    Postgres(::postgres::Error),
    /// No connection to PostgreSQL came free within [`DB_TIMEOUT`].
    PoolTimeout,
}

impl DbError {
    /// The client's fault (409, 404), not the database's.
    pub fn is_client_error(&self) -> bool {
        matches!(self, DbError::Duplicate(_) | DbError::NotFound(_))
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Open { location, source } => {
                write!(f, "cannot open the database {location}: ")?;
                match source.downcast_ref::<::postgres::Error>() {
                    Some(e) => f.write_str(&with_causes(e)),
                    None => source.fmt(f),
                }
            }
            DbError::NewerSchema {
                location,
                found,
                known,
            } => write!(
                f,
                "the database {location} has schema version {found}, newer than this program's {known}"
            ),
            DbError::Duplicate(name) => write!(f, "a user named {name:?} already exists"),
            DbError::NotFound(id) => write!(f, "no user with id {id}"),
            DbError::Sqlite(e) => write!(f, "database error: {e}"),
            DbError::Postgres(e) => write!(f, "database error: {}", with_causes(e)),
            DbError::PoolTimeout => write!(
                f,
                "database error: no connection came free in {} s",
                DB_TIMEOUT.as_secs()
            ),
        }
    }
}

/// A PostgreSQL error and its causes: the `postgres` crate says "error
/// connecting to server" and keeps "Connection refused" in its source. No
/// cause holds the URL's password (the crate never quotes the URL).
fn with_causes(e: &::postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DbError::Open { source, .. } => Some(source.as_ref()),
            DbError::Sqlite(e) => Some(e),
            DbError::Postgres(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}

impl From<::postgres::Error> for DbError {
    fn from(e: ::postgres::Error) -> Self {
        DbError::Postgres(e)
    }
}

/// The database in use, shared by every handler thread.
#[derive(Debug)]
pub struct Db {
    location: Location,
    store: Box<dyn Store>,
}

impl Db {
    /// Opens the database at `location` (creating the SQLite file, or the
    /// table in PostgreSQL) and brings its schema up to date. `connections`
    /// bounds PostgreSQL's pool: the handler threads, which are the most
    /// that can ask at once.
    pub fn open(location: &Location, connections: usize) -> Result<Db, DbError> {
        let store: Box<dyn Store> = match location {
            Location::Sqlite(path) => Box::new(sqlite::Sqlite::open(path)?),
            Location::Postgres(url) => Box::new(postgres::Postgres::open(url, connections)?),
        };
        Ok(Db {
            location: location.clone(),
            store,
        })
    }

    /// Where the users are.
    pub fn location(&self) -> &Location {
        &self.location
    }
}

impl std::ops::Deref for Db {
    type Target = dyn Store;

    fn deref(&self) -> &(dyn Store + 'static) {
        self.store.as_ref()
    }
}

#[cfg(test)]
pub(crate) mod tests;
