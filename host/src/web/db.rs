//! The site's users, in SQLite.
//!
//! The course keeps its users in a Python list (`['CBF', 'LUR', 'VRL']`) and
//! forgets every addition at restart; here they live in one SQLite file.
//!
//! Durability: the file is in WAL mode with `synchronous=FULL`, and each
//! write is one transaction whose COMMIT is checked, so a write is on disk
//! (the WAL fsynced) before the call that made it returns `Ok`: an
//! acknowledged write survives `kill -9` and power loss, and a write whose
//! COMMIT failed is an error, never acknowledged.
//!
//! Concurrency: rouille handlers run on several threads at once. A
//! `rusqlite::Connection` may move between threads but not be shared, so
//! [`Db`] keeps a small stack of idle connections: a call takes one (or
//! opens a new one when none is idle), uses it alone, and gives it back.
//! WAL lets readers run beside the one writer; writers wait for each other
//! up to [`BUSY_TIMEOUT`].
//!
//! Every statement takes its values as SQL parameters, never by string
//! formatting, and is prepared once per connection (`prepare_cached`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

/// How long a write waits for another writer before it fails.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle connections kept for reuse; more are closed when given back.
const MAX_IDLE: usize = 16;

/// The schema, one step per version: step `i` takes a database from
/// `PRAGMA user_version` `i` to `i + 1`. Steps are only ever appended.
const MIGRATIONS: &[&str] = &[
    // 1: the users, and the course's sample ones.
    "CREATE TABLE users (
         id INTEGER PRIMARY KEY,
         name TEXT NOT NULL UNIQUE,
         created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
     );
     INSERT INTO users (name) VALUES ('CBF'), ('LUR'), ('VRL');",
];

/// One user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    /// Its id, given by the database (SQLite's rowid: the highest id may be
    /// given again once its user is deleted).
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

/// Why a database call failed.
#[derive(Debug)]
pub enum DbError {
    /// The file could not be opened or set up.
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file was written by a newer reseau.
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
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
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Open { path, source } => {
                write!(f, "cannot open the database {}: {source}", path.display())
            }
            DbError::NewerSchema { path, found, known } => write!(
                f,
                "the database {} has schema version {found}, newer than this program's {known}",
                path.display()
            ),
            DbError::Duplicate(name) => write!(f, "a user named {name:?} already exists"),
            DbError::NotFound(id) => write!(f, "no user with id {id}"),
            DbError::Sqlite(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DbError::Open { source, .. } => Some(source),
            DbError::Sqlite(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}

/// The database of users, shared by every handler thread.
#[derive(Debug)]
pub struct Db {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Held by each write of this process. SQLite lets one writer at a time
    /// in, and makes the others wait in its busy handler, which sleeps and
    /// retries (1 ms, then longer, up to 100 ms a try): under load some
    /// writers lose every retry, and a request waited over a second. This
    /// lock queues the writers of this process instead; another process on
    /// the same file still meets the busy timeout.
    writer: Mutex<()>,
}

impl Db {
    /// Opens (or creates) the database at `path` and brings its schema up
    /// to date.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let open_error = |source| DbError::Open {
            path: path.to_owned(),
            source,
        };
        let mut conn = connect(path).map_err(open_error)?;
        // WAL is a property of the file: set once, kept by every connection.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_error(rusqlite::Error::InvalidParameterName(format!(
                "journal_mode is {mode}, WAL could not be set"
            ))));
        }
        migrate(&mut conn, path)?;
        // Later connections open the same file even if the working
        // directory changes.
        let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        Ok(Db {
            path,
            idle: Mutex::new(vec![conn]),
            writer: Mutex::new(()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every user's name, by id (the course's `/listusers`).
    pub fn names(&self) -> Result<Vec<String>, DbError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached("SELECT name FROM users ORDER BY id")?;
            let names = stmt
                .query_map([], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(names)
        })
    }

    /// Users `offset..offset + limit` by id, and the total, read from one
    /// snapshot so they agree.
    pub fn page(&self, offset: u64, limit: u64) -> Result<Page, DbError> {
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|conn| {
            let tx = conn.transaction()?;
            let users = {
                let mut stmt =
                    tx.prepare_cached("SELECT id, name FROM users ORDER BY id LIMIT ?1 OFFSET ?2")?;
                stmt.query_map(params![limit, offset], |row| {
                    Ok(User {
                        id: row.get(0)?,
                        name: row.get(1)?,
                    })
                })?
                .collect::<Result<Vec<User>, _>>()?
            };
            let total: i64 = tx
                .prepare_cached("SELECT count(*) FROM users")?
                .query_row([], |row| row.get(0))?;
            tx.commit()?;
            Ok(Page {
                users,
                total: u64::try_from(total).unwrap_or(0),
            })
        })
    }

    /// The user with this id.
    pub fn get(&self, id: i64) -> Result<User, DbError> {
        self.with(|conn| {
            conn.prepare_cached("SELECT id, name FROM users WHERE id = ?1")?
                .query_row(params![id], |row| {
                    Ok(User {
                        id: row.get(0)?,
                        name: row.get(1)?,
                    })
                })
                .optional()?
                .ok_or(DbError::NotFound(id))
        })
    }

    /// Adds a user; [`DbError::Duplicate`] if the name is taken.
    pub fn insert(&self, name: &str) -> Result<User, DbError> {
        self.write(|conn| {
            let id = conn
                .prepare_cached("INSERT INTO users (name) VALUES (?1) RETURNING id")?
                .query_row(params![name], |row| row.get(0))
                .map_err(|e| duplicate_or(e, name))?;
            Ok(User {
                id,
                name: name.to_owned(),
            })
        })
    }

    /// Renames a user; [`DbError::NotFound`] or [`DbError::Duplicate`].
    pub fn rename(&self, id: i64, name: &str) -> Result<User, DbError> {
        self.write(|conn| {
            let changed = conn
                .prepare_cached("UPDATE users SET name = ?1 WHERE id = ?2")?
                .execute(params![name, id])
                .map_err(|e| duplicate_or(e, name))?;
            if changed == 0 {
                return Err(DbError::NotFound(id));
            }
            Ok(User {
                id,
                name: name.to_owned(),
            })
        })
    }

    /// Deletes a user; [`DbError::NotFound`] if there is none.
    pub fn delete(&self, id: i64) -> Result<(), DbError> {
        self.write(|conn| {
            let changed = conn
                .prepare_cached("DELETE FROM users WHERE id = ?1")?
                .execute(params![id])?;
            if changed == 0 {
                return Err(DbError::NotFound(id));
            }
            Ok(())
        })
    }

    /// [`with`](Self::with) for a write, one writer of this process at a
    /// time (see `writer`), in a transaction of its own whose COMMIT is
    /// checked: `Ok` means the change is in the WAL, fsynced
    /// (`synchronous=FULL`), so the caller may acknowledge it. Without the
    /// explicit transaction, an `INSERT ... RETURNING` read with
    /// `query_row` commits when the statement is reset, and rusqlite drops
    /// that result: a failed COMMIT looked like a success. `f` failing
    /// rolls the transaction back. A poisoned lock guards nothing (`()`),
    /// so it is taken over.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T, DbError>) -> Result<T, DbError> {
        let _writing = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })
    }

    /// Runs `f` on a connection of its own: an idle one, or a new one.
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, DbError>) -> Result<T, DbError> {
        let taken = self.idle_connections().pop();
        let mut conn = match taken {
            Some(conn) => conn,
            None => connect(&self.path)?,
        };
        let result = f(&mut conn);
        let mut idle = self.idle_connections();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
        result
    }

    /// The idle stack. A thread that panicked while holding the lock left
    /// the `Vec` whole (push and pop do not unwind halfway), so a poisoned
    /// lock is taken over rather than propagated.
    fn idle_connections(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A new connection with the per-connection settings.
fn connect(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(16);
    Ok(conn)
}

/// Applies the missing [`MIGRATIONS`], in one write transaction so two
/// processes starting at once do not both apply a step.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), DbError> {
    let open_error = |source| DbError::Open {
        path: path.to_owned(),
        source,
    };
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(open_error)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(open_error)?;
    if found > known {
        return Err(DbError::NewerSchema {
            path: path.to_owned(),
            found,
            known,
        });
    }
    let start = usize::try_from(found).unwrap_or(0);
    for step in MIGRATIONS.iter().skip(start) {
        tx.execute_batch(step).map_err(open_error)?;
    }
    tx.pragma_update(None, "user_version", known)
        .map_err(open_error)?;
    tx.commit().map_err(open_error)
}

/// A UNIQUE violation on `name` is [`DbError::Duplicate`]; anything else
/// stays a SQLite error.
fn duplicate_or(e: rusqlite::Error, name: &str) -> DbError {
    match e.sqlite_error() {
        Some(err) if err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => {
            DbError::Duplicate(name.to_owned())
        }
        _ => DbError::Sqlite(e),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A unique folder under the system's temp dir, removed on drop.
    pub(crate) struct TempDir(pub PathBuf);

    impl TempDir {
        pub(crate) fn new(what: &str) -> TempDir {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "reseau-{what}-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_new_database_has_the_course_users() {
        let dir = TempDir::new("db");
        let db = Db::open(&dir.0.join("a.db")).unwrap();
        assert_eq!(db.names().unwrap(), ["CBF", "LUR", "VRL"]);
        let page = db.page(1, 1).unwrap();
        assert_eq!(page.total, 3);
        assert_eq!(
            page.users,
            [User {
                id: 2,
                name: "LUR".into()
            }]
        );
        assert_eq!(db.page(10, 5).unwrap().users, []);
    }

    #[test]
    fn insert_rename_delete() {
        let dir = TempDir::new("db");
        let db = Db::open(&dir.0.join("a.db")).unwrap();
        let user = db.insert("Ada'); DROP TABLE users; --").unwrap();
        assert_eq!(user.id, 4);
        assert_eq!(db.get(4).unwrap(), user);
        assert!(matches!(db.insert("CBF"), Err(DbError::Duplicate(n)) if n == "CBF"));
        assert!(matches!(db.rename(4, "LUR"), Err(DbError::Duplicate(_))));
        assert_eq!(db.rename(4, "Ada").unwrap().name, "Ada");
        assert!(matches!(db.rename(99, "X"), Err(DbError::NotFound(99))));
        db.delete(4).unwrap();
        assert!(matches!(db.delete(4), Err(DbError::NotFound(4))));
        assert!(matches!(db.get(4), Err(DbError::NotFound(4))));
        assert_eq!(db.names().unwrap().len(), 3);
    }

    #[test]
    fn data_survives_reopening_and_schema_is_not_reapplied() {
        let dir = TempDir::new("db");
        let path = dir.0.join("a.db");
        {
            let db = Db::open(&path).unwrap();
            db.insert("Grace").unwrap();
            db.delete(1).unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(db.names().unwrap(), ["LUR", "VRL", "Grace"]);
        let conn = Connection::open(&path).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    /// A write is acknowledged only once its COMMIT succeeded: a COMMIT
    /// that fails (here a deferred foreign key, checked at COMMIT; on a
    /// real server a full disk or an I/O error at the WAL's fsync) makes
    /// the call fail, so no 201 is sent for a row that is not stored.
    #[test]
    fn a_write_whose_commit_fails_is_an_error() {
        let dir = TempDir::new("db");
        let path = dir.0.join("a.db");
        let db = Db::open(&path).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE parent (id INTEGER PRIMARY KEY);
                 CREATE TABLE child (parent INTEGER
                     REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
                 CREATE TRIGGER orphan AFTER INSERT ON users
                     BEGIN INSERT INTO child VALUES (-1); END;",
            )
            .unwrap();
        assert!(matches!(db.insert("Ada"), Err(DbError::Sqlite(_))));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = TempDir::new("db");
        let path = dir.0.join("a.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let e = Db::open(&path).unwrap_err();
        assert!(e.to_string().contains("schema version 99"), "{e}");
    }

    #[test]
    fn concurrent_writers() {
        let dir = TempDir::new("db");
        let db = std::sync::Arc::new(Db::open(&dir.0.join("a.db")).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let db = db.clone();
                std::thread::spawn(move || {
                    for i in 0..20 {
                        db.insert(&format!("user-{t}-{i}")).unwrap();
                        db.names().unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(db.page(0, 1).unwrap().total, 3 + 8 * 20);
    }

    #[test]
    fn an_unopenable_path_is_an_error() {
        let e = Db::open(Path::new("/nonexistent/dir/a.db")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot open the database /nonexistent/dir/a.db")
        );
    }

    fn _send_sync<T: Send + Sync>() {}
    #[test]
    fn db_is_send_and_sync() {
        _send_sync::<Db>();
    }
}
