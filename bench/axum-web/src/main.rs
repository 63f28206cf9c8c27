//! The course's web routes, written the way a Rust user would write them
//! with axum: tokio's multi-threaded runtime, hyper's HTTP/1.1 server
//! (keep-alive on, `TCP_NODELAY` on every connection), a `Router` with
//!
//! - `GET /` (also `/index`, `/home`, `/accueil`): `Hello <b>NAME</b>!`,
//!   `name` from the query string (default `World`), HTML-escaped,
//!   `text/html; charset=utf-8`; with `--index-template FILE`, that file
//!   with every `{{name}}` replaced by the escaped name instead (the page
//!   `reseau web` serves, for a comparison of equal bodies);
//! - `GET /listusers`: `{"users": [...]}`, the names of the `users` table of
//!   a SQLite database (created with the course's sample users CBF, LUR and
//!   VRL when empty), `application/json`;
//! - `POST /api/users` with `{"name": "..."}`: inserts the user, `201
//!   Created` with `Location: /api/users/ID` and `{"id": ID, "name": ...}`;
//!   409 if the name is taken, 400 for an empty or over-64-character name
//!   (the rules of `reseau web`); the database is in WAL mode with
//!   `synchronous=FULL`, as reseau's, so an answered insert is on disk;
//! - `GET /static/...`: the files of a folder, by `tower_http`'s `ServeDir`
//!   (content type from the extension, `Last-Modified` and 304 answers,
//!   no way out of the folder).
//!
//! SQLite: rusqlite is blocking, so each query runs in `spawn_blocking`
//! (tokio's pool for blocking work) on one of a small pool of connections
//! (one per runtime worker thread, each behind its own mutex, taken in
//! turn), as tokio's documentation recommends for blocking calls.
//! `--db-inline` runs the query on the runtime's worker thread instead
//! (cheaper for a query of a few microseconds, but blocks the worker).
//!
//! This is a comparison peer for benchmarks only; it is not published.

use std::error::Error;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::{Router, serve};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use tower_http::services::ServeDir;

const DEFAULT_BIND: &str = "127.0.0.1:8080";
const SAMPLE_USERS: [&str; 3] = ["CBF", "LUR", "VRL"];

const USAGE: &str =
    "usage: axum-web [--bind ADDR] [--db PATH] [--static DIR] [--db-inline] [--index-template FILE]
  --bind ADDR    address to listen on (default 127.0.0.1:8080)
  --db PATH      SQLite database (default users.db; created with CBF, LUR, VRL)
  --static DIR   folder served under /static (default ./public)
  --db-inline    run the SQLite query on the runtime thread, not in spawn_blocking
  --index-template FILE  the page of /, with {{name}} replaced by the escaped name";

struct Args {
    bind: String,
    db: PathBuf,
    static_dir: PathBuf,
    db_inline: bool,
    index_template: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        bind: DEFAULT_BIND.to_owned(),
        db: PathBuf::from("users.db"),
        static_dir: PathBuf::from("public"),
        db_inline: false,
        index_template: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline_value) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline_value
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--bind" => a.bind = value("--bind")?,
            "--db" => a.db = value("--db")?.into(),
            "--static" => a.static_dir = value("--static")?.into(),
            "--db-inline" => a.db_inline = true,
            "--index-template" => a.index_template = Some(value("--index-template")?.into()),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(a)
}

/// A few SQLite connections to one database, taken in turn.
struct Db {
    conns: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl Db {
    fn open(path: &PathBuf, n: usize) -> rusqlite::Result<Db> {
        let first = Connection::open(path)?;
        first.pragma_update(None, "journal_mode", "WAL")?;
        first.pragma_update(None, "synchronous", "FULL")?;
        first.execute_batch(
            "CREATE TABLE IF NOT EXISTS users (
                 id INTEGER PRIMARY KEY,
                 name TEXT NOT NULL UNIQUE
             );",
        )?;
        let count: i64 = first.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        if count == 0 {
            for name in SAMPLE_USERS {
                first.execute("INSERT INTO users (name) VALUES (?1)", [name])?;
            }
        }
        let mut conns = vec![Mutex::new(first)];
        for _ in 1..n {
            let conn = Connection::open(path)?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conns.push(Mutex::new(conn));
        }
        Ok(Db {
            conns,
            next: AtomicUsize::new(0),
        })
    }

    /// Inserts `name`; its id, or `None` if the name is taken.
    fn insert(&self, name: &str) -> rusqlite::Result<Option<i64>> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        let conn = self.conns[i].lock().unwrap_or_else(|e| e.into_inner());
        let mut stmt = conn.prepare_cached("INSERT INTO users (name) VALUES (?1)")?;
        match stmt.insert([name]) {
            Ok(id) => Ok(Some(id)),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn names(&self) -> rusqlite::Result<Vec<String>> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        let conn = self.conns[i].lock().unwrap_or_else(|e| e.into_inner());
        let mut stmt = conn.prepare_cached("SELECT name FROM users ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect()
    }
}

struct AppState {
    db: Db,
    db_inline: bool,
    /// The page of `/` split at each `{{name}}`.
    index_parts: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct IndexQuery {
    name: Option<String>,
}

#[derive(Serialize)]
struct Users {
    users: Vec<String>,
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

async fn index(State(state): State<Arc<AppState>>, Query(q): Query<IndexQuery>) -> Html<String> {
    let name = escape_html(q.name.as_deref().unwrap_or("World"));
    match &state.index_parts {
        None => Html(format!("Hello <b>{name}</b>!")),
        Some(parts) => Html(parts.join(&name)),
    }
}

async fn listusers(State(state): State<Arc<AppState>>) -> Response {
    let names = if state.db_inline {
        state.db.names()
    } else {
        let st = Arc::clone(&state);
        match tokio::task::spawn_blocking(move || st.db.names()).await {
            Ok(r) => r,
            Err(e) => return internal_error(e),
        }
    };
    match names {
        Ok(users) => Json(Users { users }).into_response(),
        Err(e) => internal_error(e),
    }
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
}

async fn create_user(State(state): State<Arc<AppState>>, Json(user): Json<NewUser>) -> Response {
    let name = user.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 {
        let error = "name must be 1 to 64 characters";
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": error })),
        )
            .into_response();
    }
    let inserted = if state.db_inline {
        state.db.insert(&name)
    } else {
        let (st, n) = (Arc::clone(&state), name.clone());
        match tokio::task::spawn_blocking(move || st.db.insert(&n)).await {
            Ok(r) => r,
            Err(e) => return internal_error(e),
        }
    };
    match inserted {
        Ok(Some(id)) => (
            StatusCode::CREATED,
            [(LOCATION, format!("/api/users/{id}"))],
            Json(serde_json::json!({ "id": id, "name": name })),
        )
            .into_response(),
        Ok(None) => (
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": "a user with this name exists" })),
        )
            .into_response(),
        Err(e) => internal_error(e),
    }
}

fn internal_error(e: impl std::fmt::Display) -> Response {
    eprintln!("axum-web: {e}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(serde_json::json!({ "error": "internal error" })),
    )
        .into_response()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("axum-web: {msg}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let index_parts = match &args.index_template {
        Some(path) => Some(
            std::fs::read_to_string(path)?
                .split("{{name}}")
                .map(str::to_owned)
                .collect(),
        ),
        None => None,
    };
    let state = Arc::new(AppState {
        db: Db::open(&args.db, workers)?,
        db_inline: args.db_inline,
        index_parts,
    });
    let app = Router::new()
        .route("/", get(index))
        .route("/index", get(index))
        .route("/home", get(index))
        .route("/accueil", get(index))
        .route("/listusers", get(listusers))
        .route("/api/users", post(create_user))
        .nest_service("/static", ServeDir::new(&args.static_dir))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(&args.bind).await?;
    let local: SocketAddr = listener.local_addr()?;
    eprintln!("listening on {local}");
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            eprintln!("axum-web: TCP_NODELAY: {e}");
        }
    });
    serve(listener, app).await?;
    Ok(())
}
