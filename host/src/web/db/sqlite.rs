//! The site's users in one SQLite file: the embedded default.
//!
//! Durability: the file is in WAL mode with `synchronous=FULL`, and each
//! write is one transaction whose COMMIT is checked, so a write is on disk
//! (the WAL fsynced) before the call that made it returns `Ok`: an
//! acknowledged write survives `kill -9` and power loss, and a write whose
//! COMMIT failed is an error, never acknowledged.
//!
//! Concurrency: rouille handlers run on several threads at once. A
//! `rusqlite::Connection` may move between threads but not be shared, so
//! [`Sqlite`] keeps a small stack of idle connections: a call takes one (or
//! opens a new one when none is idle), uses it alone, and gives it back.
//! WAL lets readers run beside the one writer; writers wait for each other
//! up to [`BUSY_TIMEOUT`].
//!
//! Every statement takes its values as SQL parameters, never by string
//! formatting, and is prepared once per connection (`prepare_cached`).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::{DB_TIMEOUT, DbError, Page, Store, User};

/// How long a write waits for another writer before it fails.
pub const BUSY_TIMEOUT: Duration = DB_TIMEOUT;

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

/// The users in a SQLite file, shared by every handler thread.
#[derive(Debug)]
pub struct Sqlite {
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

impl Sqlite {
    /// Opens (or creates) the database at `path` and brings its schema up
    /// to date.
    pub fn open(path: &Path) -> Result<Sqlite, DbError> {
        let failed = |source| open_error(path, source);
        let mut conn = connect(path).map_err(failed)?;
        // WAL is a property of the file: set once, kept by every connection.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(failed)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(failed(rusqlite::Error::InvalidParameterName(format!(
                "journal_mode is {mode}, WAL could not be set"
            ))));
        }
        migrate(&mut conn, path)?;
        // Later connections open the same file even if the working
        // directory changes.
        let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        Ok(Sqlite {
            path,
            idle: Mutex::new(vec![conn]),
            writer: Mutex::new(()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Store for Sqlite {
    fn names(&self) -> Result<Vec<String>, DbError> {
        self.with(|conn| {
            let mut stmt = conn.prepare_cached("SELECT name FROM users ORDER BY id")?;
            let names = stmt
                .query_map([], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(names)
        })
    }

    fn page(&self, offset: u64, limit: u64) -> Result<Page, DbError> {
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

    fn get(&self, id: i64) -> Result<User, DbError> {
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

    fn insert(&self, name: &str) -> Result<User, DbError> {
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

    fn rename(&self, id: i64, name: &str) -> Result<User, DbError> {
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

    fn delete(&self, id: i64) -> Result<(), DbError> {
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

    /// SQLite is a file: it answers unless the file broke. The statement
    /// takes no lock (WAL readers do not wait for the writer).
    fn ping(&self) -> Result<(), DbError> {
        self.with(|conn| {
            conn.prepare_cached("SELECT 1")?.query_row([], |_| Ok(()))?;
            Ok(())
        })
    }
}

impl Sqlite {
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
    let failed = |source| open_error(path, source);
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(failed)?;
    if found > known {
        return Err(DbError::NewerSchema {
            location: path.display().to_string(),
            found,
            known,
        });
    }
    let start = usize::try_from(found).unwrap_or(0);
    for step in MIGRATIONS.iter().skip(start) {
        tx.execute_batch(step).map_err(failed)?;
    }
    tx.pragma_update(None, "user_version", known)
        .map_err(failed)?;
    tx.commit().map_err(failed)
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

/// [`DbError::Open`] for the file at `path`.
fn open_error(path: &Path, source: rusqlite::Error) -> DbError {
    DbError::Open {
        location: path.display().to_string(),
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::db::tests::TempDir;

    #[test]
    fn data_survives_reopening_and_schema_is_not_reapplied() {
        let dir = TempDir::new("db");
        let path = dir.0.join("a.db");
        {
            let db = Sqlite::open(&path).unwrap();
            db.insert("Grace").unwrap();
            db.delete(1).unwrap();
        }
        let db = Sqlite::open(&path).unwrap();
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
        let db = Sqlite::open(&path).unwrap();
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
        let e = Sqlite::open(&path).unwrap_err();
        assert!(e.to_string().contains("schema version 99"), "{e}");
    }

    #[test]
    fn an_unopenable_path_is_an_error() {
        let e = Sqlite::open(Path::new("/nonexistent/dir/a.db")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot open the database /nonexistent/dir/a.db")
        );
    }
}
