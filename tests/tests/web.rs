//! The web site (`reseau web`) over real HTTP: every route of the course
//! (`/` and its aliases, `/static`, the 404 page, the login form,
//! `/listusers`, `/adduser`), the REST API (`/api/users`, `/api/sum`,
//! `/api/openapi.json`) with every error status, the HTTP/1.1 front end
//! (limits, keep-alive, pipelining, HTTP/1.0, HEAD, `Expect`, chunked
//! bodies, timeouts, many clients at once), the data surviving `kill -9`,
//! signals, the access log, and the CherryPy-style config file.
//!
//! Each test starts its own server on 127.0.0.1, on a port the kernel
//! picks, with a real SQLite file and a static folder in a temporary
//! directory of its own, so the tests run in parallel. The client is a
//! small raw HTTP/1.1 client over `TcpStream` (below), so that every byte
//! sent is the test's choice and every wait has a deadline.
//!
//! Needs `cargo build --release --workspace` first (or `RESEAU_BIN`).

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::http::{Conn, Response, request_bytes};
use common::*;

// The site under test.

/// Written in every file outside the static folder: never in a response.
const SECRET: &str = "TOP-SECRET-c0ffee-never-served";

/// A 1x1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// The files of a test's temporary directory: `public/` (the static
/// folder), and secrets outside it, some reachable through symlinks in it.
fn write_site_files(root: &Path) {
    let public = root.join("public");
    std::fs::create_dir_all(public.join("sub")).expect("mkdir public/sub");
    let files: [(&str, &[u8]); 6] = [
        ("style.css", b"body { color: #123456; }\n"),
        ("app.js", b"console.log('static js');\n"),
        (
            "page.html",
            b"<!doctype html><title>static page</title><p>a static page</p>\n",
        ),
        (
            "logo.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\" height=\"1\"></svg>\n",
        ),
        ("pixel.png", PNG),
        ("sub/nested.txt", b"nested file\n"),
    ];
    for (name, bytes) in files {
        std::fs::write(public.join(name), bytes).expect("write a static file");
    }
    // Outside the static folder.
    std::fs::write(root.join("secret"), SECRET).expect("write secret");
    std::fs::write(root.join("Cargo.toml"), SECRET).expect("write Cargo.toml");
    std::fs::create_dir_all(root.join("outside")).expect("mkdir outside");
    std::fs::write(root.join("outside/inner.txt"), SECRET).expect("write outside/inner.txt");
    // Symlinks in the folder that lead out of it.
    std::os::unix::fs::symlink(root.join("secret"), public.join("leak.txt"))
        .expect("symlink leak.txt");
    std::os::unix::fs::symlink("../secret", public.join("leak-relative.txt"))
        .expect("symlink leak-relative.txt");
    std::os::unix::fs::symlink(root.join("outside"), public.join("outdir"))
        .expect("symlink outdir");
}

/// The course's config format, with the static folder `<root>/public`,
/// then `extra` lines in `[global]`.
fn config_text(root: &Path, extra_global: &str) -> String {
    format!(
        "[global]\nserver.socket_port: 0\n{extra_global}\n[/static]\ntools.staticdir.on: True\n\
         tools.staticdir.root: '{}'\ntools.staticdir.dir: './public'\n",
        root.display()
    )
}

/// A `reseau web` with its own directory: config, database, static files.
struct Web {
    server: Server,
    /// Dropped after the server (fields drop in order).
    dir: TempDir,
}

impl Web {
    /// A site with the default limits.
    fn start(name: &str) -> Web {
        Self::start_with(name, "")
    }

    /// A site whose config has `extra_global` lines in `[global]`.
    fn start_with(name: &str, extra_global: &str) -> Web {
        let dir = TempDir::new(&format!("web-{name}"));
        write_site_files(dir.path());
        let config = dir.path().join("server.conf");
        std::fs::write(&config, config_text(dir.path(), extra_global)).expect("write config");
        let server = start_web(dir.path());
        Web { server, dir }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("site.db")
    }

    /// One request on a connection of its own.
    fn send(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let mut all = headers.to_vec();
        all.push(("Connection", "close"));
        Conn::open(self.addr()).request(method, target, &all, body)
    }

    fn get(&self, target: &str) -> Response {
        self.send("GET", target, &[], b"")
    }

    /// A POST with a JSON body.
    fn post_json(&self, target: &str, body: &str) -> Response {
        self.send(
            "POST",
            target,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    fn put_json(&self, target: &str, body: &str) -> Response {
        self.send(
            "PUT",
            target,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    /// A POST of a form (`application/x-www-form-urlencoded`).
    fn post_form(&self, target: &str, body: &str) -> Response {
        self.send(
            "POST",
            target,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
    }

    /// The names `/listusers` lists.
    fn listusers(&self) -> Vec<String> {
        let response = self.get("/listusers");
        response.assert_status(200);
        names(&response.json()["users"], &response)
    }
}

/// `reseau web --config <dir>/server.conf --db <dir>/site.db --bind
/// 127.0.0.1:0`, in `dir`.
fn start_web(dir: &Path) -> Server {
    let config = dir.join("server.conf");
    let db = site_db(dir);
    Server::start_cmd(
        &["web"],
        "127.0.0.1:0",
        &[
            "--config",
            config.to_str().expect("UTF-8 path"),
            "--db",
            &db,
        ],
        Some(dir),
    )
}

/// The PostgreSQL cluster the suite runs against instead of SQLite: the
/// role's URL and the superuser's, from `RESEAU_TEST_DB` and
/// `RESEAU_TEST_DB_SUPER` (set by tests/postgres/run.sh).
fn postgres_cluster() -> Option<(String, String)> {
    Some((
        std::env::var("RESEAU_TEST_DB").ok()?,
        std::env::var("RESEAU_TEST_DB_SUPER").ok()?,
    ))
}

/// The `--db` of the site in `dir`: `<dir>/site.db`, or under
/// [`postgres_cluster`] a new database of the cluster, made on the site's
/// first start and kept (in `<dir>/postgres-url`) for its restarts.
fn site_db(dir: &Path) -> String {
    let Some((url, super_url)) = postgres_cluster() else {
        return dir.join("site.db").to_str().expect("UTF-8 path").to_owned();
    };
    let saved = dir.join("postgres-url");
    if let Ok(url) = std::fs::read_to_string(&saved) {
        return url;
    }
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "web_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let role = url.split("://").nth(1).and_then(|r| r.split(':').next());
    let role = role.expect("RESEAU_TEST_DB has a user");
    // A schema of its own, not a database: PostgreSQL's CREATE DATABASE
    // copies a template through the WAL and fsyncs it, and dozens of those
    // at once stalled the whole machine for seconds (CI).
    let made = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &super_url, "-c"])
        .arg(format!("CREATE SCHEMA {name} AUTHORIZATION {role}"))
        .status()
        .expect("run psql");
    assert!(made.success(), "psql could not create the schema {name}");
    let base = url.split('?').next().expect("a URL");
    let url = format!("{base}?options=-c%20search_path%3D{name}");
    std::fs::write(&saved, &url).expect("write postgres-url");
    url
}

/// The strings of a JSON array of strings.
fn names(list: &Value, context: &Response) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}; {context:?}"))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("not a string: {v}; {context:?}"))
                .to_string()
        })
        .collect()
}

/// The user objects of a page of `GET /api/users`: the body itself if it
/// is a list, or its `users` (or `items`, `data`) list.
fn api_users(response: &Response) -> Vec<Value> {
    let body = response.json();
    let list = if body.is_array() {
        body
    } else {
        ["users", "items", "data"]
            .iter()
            .map(|key| body[*key].clone())
            .find(Value::is_array)
            .unwrap_or_else(|| panic!("no list of users in {body}; {response:?}"))
    };
    list.as_array().expect("an array").clone()
}

/// The names of a page of `GET /api/users`.
fn api_user_names(response: &Response) -> Vec<String> {
    api_users(response)
        .iter()
        .map(|u| {
            u["name"]
                .as_str()
                .unwrap_or_else(|| panic!("a user without a name: {u}; {response:?}"))
                .to_string()
        })
        .collect()
}

/// `POST /api/users {"name": name}`: asserts 201 and a Location, returns
/// the Location (`/api/users/<id>`).
fn create_user(web: &Web, name: &str) -> String {
    let response = web.post_json("/api/users", &json!({ "name": name }).to_string());
    response.assert_status(201);
    let location = response
        .header("location")
        .unwrap_or_else(|| panic!("201 without Location: {response:?}"))
        .to_string();
    // Absolute or not, it ends with the user's path.
    let path = match location.find("/api/users/") {
        Some(i) => location[i..].to_string(),
        None => panic!("Location {location:?} is not /api/users/<id>: {response:?}"),
    };
    let body = response.json();
    assert_eq!(body["name"], name, "{response:?}");
    let id = &path["/api/users/".len()..];
    assert_eq!(
        body["id"].to_string().trim_matches('"'),
        id,
        "the body's id is the Location's: {response:?}"
    );
    path
}

// 1. The course's pages.

#[test]
fn home_says_hello_world_on_every_alias() {
    let web = Web::start("home-aliases");
    for path in ["/", "/index", "/home", "/accueil"] {
        let response = web.get(path);
        response.assert_status(200);
        assert!(
            response.content_type().starts_with("text/html"),
            "{path}: {response:?}"
        );
        assert!(
            response.text().contains("Hello <b>World</b>!"),
            "{path}: {response:?}"
        );
    }
}

#[test]
fn home_greets_the_name_from_the_query_string() {
    let web = Web::start("home-name");
    let cases = [
        ("/?name=Alice", "Hello <b>Alice</b>!"),
        ("/index?name=Alice", "Hello <b>Alice</b>!"),
        ("/home?name=Bob", "Hello <b>Bob</b>!"),
        ("/accueil?name=Chlo%C3%A9", "Hello <b>Chloé</b>!"),
        ("/?name=Jean+Paul", "Hello <b>Jean Paul</b>!"),
        ("/?name=Jean%20Paul", "Hello <b>Jean Paul</b>!"),
    ];
    for (target, expected) in cases {
        let response = web.get(target);
        response.assert_status(200);
        assert!(response.text().contains(expected), "{target}: {response:?}");
    }
}

#[test]
fn home_escapes_html_in_the_name() {
    let web = Web::start("home-xss");
    let response = web.get("/?name=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    response.assert_status(200);
    let text = response.text();
    assert!(
        text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the name is shown, escaped: {response:?}"
    );
    assert!(!text.contains("<script>alert(1)"), "XSS: {response:?}");
    // Quotes and ampersands too.
    let response = web.get("/?name=%22%27%3E%26%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E");
    response.assert_status(200);
    let text = response.text();
    assert!(!text.contains("<img src=x"), "XSS: {response:?}");
    assert!(text.contains("&amp;"), "& is escaped: {response:?}");
}

#[test]
fn static_files_have_their_content_types() {
    let web = Web::start("static-types");
    let cases: [(&str, &[&str], &[u8]); 6] = [
        ("/static/style.css", &["text/css"], b"#123456"),
        (
            "/static/app.js",
            &["text/javascript", "application/javascript"],
            b"static js",
        ),
        ("/static/page.html", &["text/html"], b"a static page"),
        ("/static/logo.svg", &["image/svg+xml"], b"<svg"),
        ("/static/pixel.png", &["image/png"], PNG),
        ("/static/sub/nested.txt", &["text/plain"], b"nested file"),
    ];
    for (path, types, content) in cases {
        let response = web.get(path);
        response.assert_status(200);
        let content_type = response.content_type();
        assert!(
            types.iter().any(|t| content_type.starts_with(t)),
            "{path}: Content-Type {content_type:?}, expected one of {types:?}"
        );
        assert!(
            response.body.windows(content.len()).any(|w| w == content),
            "{path}: {response:?}"
        );
    }
    assert_eq!(web.get("/static/pixel.png").body, PNG);
    // A big file, byte for byte.
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 7)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(web.dir.path().join("public/big.bin"), &big).expect("write big.bin");
    let response = web.get("/static/big.bin");
    response.assert_status(200);
    assert!(
        response.body == big,
        "big.bin: {} bytes differ",
        response.body.len()
    );
    // A missing file is a 404.
    web.get("/static/nope.css").assert_status(404);
}

#[test]
fn static_files_have_validators_and_answer_304() {
    let web = Web::start("static-304");
    let response = web.get("/static/style.css");
    response.assert_status(200);
    let etag = response
        .header("etag")
        .unwrap_or_else(|| panic!("no ETag: {response:?}"))
        .to_string();
    let last_modified = response
        .header("last-modified")
        .unwrap_or_else(|| panic!("no Last-Modified: {response:?}"))
        .to_string();

    let response = web.send("GET", "/static/style.css", &[("If-None-Match", &etag)], b"");
    response.assert_status(304);
    assert!(response.body.is_empty(), "{response:?}");

    let response = web.send(
        "GET",
        "/static/style.css",
        &[("If-Modified-Since", &last_modified)],
        b"",
    );
    response.assert_status(304);
    assert!(response.body.is_empty(), "{response:?}");

    // Another validator: the file again.
    let response = web.send(
        "GET",
        "/static/style.css",
        &[("If-None-Match", "\"not-this-one\"")],
        b"",
    );
    response.assert_status(200);
    assert_eq!(response.text(), "body { color: #123456; }\n");
    let response = web.send(
        "GET",
        "/static/style.css",
        &[("If-Modified-Since", "Mon, 01 Jan 1990 00:00:00 GMT")],
        b"",
    );
    response.assert_status(200);
    // A 304 on a keep-alive connection has no body: the next answer is
    // read right after it.
    let mut conn = Conn::open(web.addr());
    conn.request("GET", "/static/style.css", &[("If-None-Match", &etag)], b"")
        .assert_status(304);
    let response = conn.request("GET", "/static/style.css", &[], b"");
    response.assert_status(200);
    assert_eq!(response.text(), "body { color: #123456; }\n");
}

/// Refused with 404 (PROTOCOL.md: not answered by the static tool, so the
/// routes answer, and none has that path), and nothing of the secret file.
fn assert_not_served(web: &Web, target: &str) {
    let response = web.get(target);
    assert_eq!(
        response.status, 404,
        "{target} must be refused: {response:?}"
    );
    let text = response.text();
    assert!(
        !text.contains(SECRET),
        "{target} leaked a file: {response:?}"
    );
    assert!(
        !text.contains("root:x:0"),
        "{target} leaked /etc/passwd: {response:?}"
    );
}

#[test]
fn static_never_leaves_its_folder() {
    let web = Web::start("static-traversal");
    let secret = web.dir.path().join("secret");
    let secret = secret.to_str().expect("UTF-8 path");
    let encoded_secret = secret.replace('/', "%2f");
    let targets = [
        "/static/../secret".to_string(),
        "/static/../Cargo.toml".to_string(),
        "/static/%2e%2e/secret".to_string(),
        "/static/%2E%2E/secret".to_string(),
        "/static/%2e%2e%2fsecret".to_string(),
        "/static/..%2fsecret".to_string(),
        "/static/sub/../../secret".to_string(),
        "/static/sub/%2e%2e/%2e%2e/secret".to_string(),
        "/static/sub/..%2f..%2fsecret".to_string(),
        "/static/..%5csecret".to_string(),
        "/static/%2e%2e%5csecret".to_string(),
        "/static//etc/passwd".to_string(),
        "/static/%2fetc%2fpasswd".to_string(),
        format!("/static/{secret}"),
        format!("/static/{encoded_secret}"),
        "/static/..".to_string(),
        "/static/%00".to_string(),
        "/static/style.css%00.png".to_string(),
    ];
    for target in &targets {
        assert_not_served(&web, target);
    }
    // No listing of a folder.
    for target in ["/static/", "/static/sub/", "/static/sub", "/static"] {
        let response = web.get(target);
        // No index file is set: the routes answer, 404.
        assert_eq!(response.status, 404, "{target}: {response:?}");
        assert!(
            !response.text().contains("nested.txt"),
            "{target}: {response:?}"
        );
    }
    // The server is still fine.
    web.get("/static/style.css").assert_status(200);
}

#[test]
fn static_symlinks_out_of_the_folder_are_not_served() {
    let web = Web::start("static-symlinks");
    for target in [
        "/static/leak.txt",
        "/static/leak-relative.txt",
        "/static/outdir/inner.txt",
        "/static/outdir/",
        "/static/outdir",
    ] {
        assert_not_served(&web, target);
    }
}

/// Only regular files are served: a FIFO (which would block the worker
/// that opens it until a writer comes), a Unix socket and a folder in the
/// static folder are 404, at once, however many ask at the same time, and
/// the site keeps answering.
#[test]
fn static_special_files_are_404_at_once_and_block_nobody() {
    let web = Web::start("static-special");
    let public = web.dir.path().join("public");
    let made = std::process::Command::new("mkfifo")
        .arg(public.join("pipe.txt"))
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo failed");
    let _socket =
        std::os::unix::net::UnixListener::bind(public.join("socket.txt")).expect("bind a socket");
    std::fs::create_dir(public.join("folder.txt")).expect("mkdir folder.txt");
    // More at once than the server has workers (8).
    let started = Instant::now();
    let askers: Vec<_> = (0..24)
        .map(|i| {
            let addr = web.addr();
            let target = [
                "/static/pipe.txt",
                "/static/socket.txt",
                "/static/folder.txt",
            ][i % 3];
            thread::spawn(move || {
                let mut conn = Conn::open(addr);
                let response = conn
                    .try_response_to("GET", target, Duration::from_secs(5))
                    .unwrap_or_else(|e| panic!("{target}: no answer: {e}"));
                (target, response.status)
            })
        })
        .collect();
    for asker in askers {
        let (target, status) = asker.join().expect("an asking thread");
        assert_eq!(status, 404, "{target}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the special files took {:?}",
        started.elapsed()
    );
    // Nothing is stuck: pages and files are served.
    web.get("/").assert_status(200);
    assert_eq!(
        web.get("/static/style.css").text(),
        "body { color: #123456; }\n"
    );
}

#[test]
fn unknown_path_is_a_404_page_with_the_url_escaped() {
    let web = Web::start("not-found");
    let response = web.get("/no/such/page");
    response.assert_status(404);
    assert!(
        response.content_type().starts_with("text/html"),
        "{response:?}"
    );
    assert!(response.text().contains("/no/such/page"), "{response:?}");

    let response = web.get("/nope/%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    response.assert_status(404);
    let text = response.text();
    assert!(text.contains("/nope/"), "the URL is shown: {response:?}");
    assert!(!text.contains("<script>alert(1)"), "XSS: {response:?}");
    assert!(
        text.contains("&lt;script&gt;") || text.contains("%3Cscript%3E"),
        "the URL is shown, escaped: {response:?}"
    );
    // In the query string too.
    let response = web.get("/nope?q=%3Cscript%3Ealert(2)%3C/script%3E");
    response.assert_status(404);
    assert!(
        !response.text().contains("<script>alert(2)"),
        "XSS: {response:?}"
    );
}

#[test]
fn loginform_is_a_form_that_posts_name_to_login() {
    let web = Web::start("loginform");
    let response = web.get("/loginform");
    response.assert_status(200);
    assert!(
        response.content_type().starts_with("text/html"),
        "{response:?}"
    );
    let text = response.text();
    for needle in [
        "<form",
        "action=\"/login\"",
        "method=\"post\"",
        "name=\"name\"",
    ] {
        assert!(text.contains(needle), "no {needle:?} in {response:?}");
    }
}

#[test]
fn login_says_bonjour_to_the_name() {
    let web = Web::start("login");
    let response = web.post_form("/login", "name=Bob");
    response.assert_status(200);
    assert!(response.text().contains("Bonjour Bob !"), "{response:?}");

    let response = web.post_form("/login", "name=Jos%C3%A9+Mar%C3%ADa");
    response.assert_status(200);
    assert!(
        response.text().contains("Bonjour José María !"),
        "{response:?}"
    );

    let response = web.post_form("/login", "name=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    response.assert_status(200);
    assert!(
        !response.text().contains("<script>alert(1)"),
        "XSS: {response:?}"
    );
    assert!(response.text().contains("&lt;script&gt;"), "{response:?}");
}

#[test]
fn login_without_a_name_is_a_400_page_that_says_name() {
    let web = Web::start("login-400");
    for body in ["", "name=", "other=1", "name=&other=2"] {
        let response = web.post_form("/login", body);
        response.assert_status(400);
        let text = response.text();
        assert!(text.contains("name"), "body {body:?}: {response:?}");
        assert!(
            !text.contains("panicked") && !text.contains("RUST_BACKTRACE"),
            "body {body:?}: {response:?}"
        );
    }
}

#[test]
fn listusers_starts_with_the_course_users() {
    let web = Web::start("listusers");
    let response = web.get("/listusers");
    response.assert_status(200);
    assert!(
        response.content_type().starts_with("application/json"),
        "{response:?}"
    );
    assert_eq!(
        response.json(),
        json!({"users": ["CBF", "LUR", "VRL"]}),
        "{response:?}"
    );
}

#[test]
fn adduser_takes_an_object_or_the_course_double_encoded_string() {
    let web = Web::start("adduser");
    let response = web.post_json("/adduser", r#"{"name": "Xavier"}"#);
    response.assert_status(200);
    assert_eq!(response.json(), json!({"OK": true}), "{response:?}");
    // The course's client: `requests.post(url, json=json.dumps(user))`.
    let response = web.post_json("/adduser", r#""{\"name\": \"Yvonne\"}""#);
    response.assert_status(200);
    assert_eq!(response.json(), json!({"OK": true}), "{response:?}");
    assert_eq!(web.listusers(), ["CBF", "LUR", "VRL", "Xavier", "Yvonne"]);
    // Also in the REST API.
    let response = web.get("/api/users?per_page=100");
    response.assert_status(200);
    let listed = api_user_names(&response);
    assert!(
        listed.contains(&"Xavier".to_string()) && listed.contains(&"Yvonne".to_string()),
        "{response:?}"
    );
}

#[test]
fn adduser_refuses_malformed_json() {
    let web = Web::start("adduser-400");
    for body in ["{", "", "\"{not json\"", "[1, 2"] {
        let response = web.post_json("/adduser", body);
        response.assert_status(400);
    }
    for body in ["{}", "42", r#"{"name": 3}"#, r#""{}""#] {
        let response = web.post_json("/adduser", body);
        // JSON, but not what the route takes: 422.
        assert_eq!(response.status, 422, "{body:?}: {response:?}");
    }
    assert_eq!(web.listusers(), ["CBF", "LUR", "VRL"]);
}

// 2. The REST API.

#[test]
fn api_users_create_read_update_delete() {
    let web = Web::start("api-crud");
    let path = create_user(&web, "Zoé");

    let response = web.get(&path);
    response.assert_status(200);
    assert!(
        response.content_type().starts_with("application/json"),
        "{response:?}"
    );
    assert_eq!(response.json()["name"], "Zoé", "{response:?}");

    let response = web.put_json(&path, r#"{"name": "Zed"}"#);
    response.assert_status(200);
    assert_eq!(response.json()["name"], "Zed", "{response:?}");
    assert_eq!(web.get(&path).json()["name"], "Zed");
    assert!(web.listusers().contains(&"Zed".to_string()));
    assert!(!web.listusers().contains(&"Zoé".to_string()));

    let response = web.send("DELETE", &path, &[], b"");
    assert_eq!(response.status, 204, "DELETE {path}: {response:?}");
    assert!(response.body.is_empty(), "DELETE {path}: {response:?}");
    web.get(&path).assert_json_error(404);
    web.send("DELETE", &path, &[], b"").assert_json_error(404);
    web.put_json(&path, r#"{"name": "Ghost"}"#)
        .assert_json_error(404);
    assert_eq!(web.listusers(), ["CBF", "LUR", "VRL"]);
}

#[test]
fn api_users_is_paginated() {
    let web = Web::start("api-pages");
    for name in ["P1", "P2", "P3", "P4"] {
        create_user(&web, name);
    }
    // 7 users: CBF, LUR, VRL, P1..P4.
    let all = web.get("/api/users?per_page=100");
    all.assert_status(200);
    assert_eq!(
        api_user_names(&all),
        ["CBF", "LUR", "VRL", "P1", "P2", "P3", "P4"],
        "{all:?}"
    );
    let mut seen = Vec::new();
    for page in 1..=4 {
        let response = web.get(&format!("/api/users?page={page}&per_page=2"));
        response.assert_status(200);
        let names = api_user_names(&response);
        let expected = if page < 4 { 2 } else { 1 };
        assert_eq!(names.len(), expected, "page {page}: {response:?}");
        seen.extend(names);
    }
    assert_eq!(seen, ["CBF", "LUR", "VRL", "P1", "P2", "P3", "P4"]);
    let response = web.get("/api/users?page=5&per_page=2");
    response.assert_status(200);
    assert!(api_user_names(&response).is_empty(), "{response:?}");
    // Nonsense pages are errors, not panics.
    for query in [
        "page=0",
        "page=-1",
        "per_page=0",
        "page=abc",
        "per_page=100000000",
    ] {
        let response = web.get(&format!("/api/users?{query}"));
        // Out of range or not an int: 422 (PROTOCOL.md).
        response.assert_json_error(422);
    }
}

#[test]
fn api_users_errors_are_json_with_the_right_status() {
    let web = Web::start("api-errors");
    // 400: malformed JSON.
    web.post_json("/api/users", "{\"name\": ")
        .assert_json_error(400);
    web.post_json("/api/users", "").assert_json_error(400);
    // 415: not JSON.
    web.send(
        "POST",
        "/api/users",
        &[("Content-Type", "text/plain")],
        br#"{"name": "Plain"}"#,
    )
    .assert_json_error(415);
    web.send(
        "POST",
        "/api/users",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"name=Form",
    )
    .assert_json_error(415);
    // 422: invalid fields.
    web.post_json("/api/users", r#"{"name": ""}"#)
        .assert_json_error(422);
    let long = "x".repeat(65);
    web.post_json("/api/users", &json!({ "name": long }).to_string())
        .assert_json_error(422);
    web.post_json("/api/users", r#"{"name": 42}"#)
        .assert_json_error(422);
    web.post_json("/api/users", r#"{}"#).assert_json_error(422);
    // 64 characters is fine.
    create_user(&web, &"y".repeat(64));
    // 409: a name already there.
    web.post_json("/api/users", r#"{"name": "CBF"}"#)
        .assert_json_error(409);
    let unique = create_user(&web, "Unique");
    web.put_json(&unique, r#"{"name": "LUR"}"#)
        .assert_json_error(409);
    web.put_json(&unique, r#"{"name": ""}"#)
        .assert_json_error(422);
    web.put_json(&unique, "not json").assert_json_error(400);
    // 404: no such user, or no such route.
    web.get("/api/users/999999").assert_json_error(404);
    web.get("/api/users/abc").assert_json_error(404);
    web.get("/api/nothing").assert_json_error(404);
    // 405 with Allow.
    for (method, path, allowed) in [
        ("PATCH", "/api/users", &["GET", "POST"][..]),
        ("DELETE", "/api/users", &["GET", "POST"][..]),
        ("POST", unique.as_str(), &["GET", "PUT", "DELETE"][..]),
        ("GET", "/api/sum", &["POST"][..]),
    ] {
        let response = web.send(method, path, &[("Content-Type", "application/json")], b"{}");
        response.assert_json_error(405);
        let allow = response
            .header("allow")
            .unwrap_or_else(|| panic!("405 without Allow: {response:?}"))
            .to_ascii_uppercase();
        for method in allowed {
            assert!(
                allow.contains(method),
                "{method} not in Allow: {response:?}"
            );
        }
    }
    // Nothing of the above was stored.
    let response = web.get("/api/users?per_page=100");
    assert_eq!(
        api_user_names(&response),
        ["CBF", "LUR", "VRL", &"y".repeat(64), "Unique"],
        "{response:?}"
    );
}

#[test]
fn api_body_over_1_mib_is_413() {
    let web = Web::start("api-413");
    // The head only: the server may answer before reading the body.
    let mut conn = Conn::open(web.addr());
    conn.send(
        b"POST /api/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 2000000\r\n\r\n",
    );
    conn.response("POST").assert_json_error(413);
    // A body just under 1 MiB is read (and refused for what it is).
    let mut body = br#"{"name": ""#.to_vec();
    body.extend(std::iter::repeat_n(b'a', 1024 * 1024 - 100));
    body.extend_from_slice(br#""}"#);
    web.post_json("/api/users", &String::from_utf8(body).expect("ASCII"))
        .assert_json_error(422);
    // Also on /api/sum.
    let mut conn = Conn::open(web.addr());
    conn.send(
        b"POST /api/sum HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 2000000\r\n\r\n",
    );
    conn.response("POST").assert_json_error(413);
    web.get("/").assert_status(200);
}

/// A client that sends its whole oversized body without waiting still
/// gets the early 413: the server shuts its side down and drops the rest
/// of the body instead of closing on unread bytes, which would send a
/// reset that makes the client's kernel throw the 413 away.
#[test]
fn an_early_413_reaches_a_client_that_keeps_sending() {
    let web = Web::start("early-413");
    for round in 0..5 {
        let mut conn = Conn::open(web.addr());
        let mut writer = conn.stream.try_clone().expect("clone the socket");
        writer.set_write_timeout(Some(WAIT)).expect("write timeout");
        let sender = thread::spawn(move || {
            let mut request = b"POST /api/users HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                Content-Type: application/json\r\nContent-Length: 4000000\r\n\r\n"
                .to_vec();
            request.extend(std::iter::repeat_n(b'a', 4_000_000));
            // Errors are the server's right once it has answered; what
            // matters is what the client reads.
            let _ = writer.write_all(&request);
        });
        let response = conn
            .try_response("POST", WAIT)
            .unwrap_or_else(|e| panic!("round {round}: the 413 was lost: {e}"));
        response.assert_json_error(413);
        // Then the end of the stream, not a reset.
        let mut rest = [0u8; 16];
        conn.stream
            .set_read_timeout(Some(WAIT))
            .expect("read timeout");
        assert_eq!(
            conn.stream.read(&mut rest).map_err(|e| e.kind()),
            Ok(0),
            "round {round}"
        );
        sender.join().expect("the sender thread");
    }
    web.get("/").assert_status(200);
}

#[test]
fn api_sum_adds_64_bit_ints_and_reports_overflow_as_422() {
    let web = Web::start("api-sum");
    let cases = [
        ("[1,2,3]", json!({"sum": 6})),
        ("[]", json!({"sum": 0})),
        ("[-5, 3]", json!({"sum": -2})),
        ("[4294967296, 4294967296]", json!({"sum": 8589934592_i64})),
        (
            "[9223372036854775806, 1]",
            json!({"sum": 9223372036854775807_i64}),
        ),
        ("[-9223372036854775807, -1]", json!({"sum": i64::MIN})),
        // -0 is a JSON int (Python's json reads it as 0).
        ("[-0, 7]", json!({"sum": 7})),
    ];
    for (body, expected) in cases {
        let response = web.post_json("/api/sum", body);
        response.assert_status(200);
        assert_eq!(response.json(), expected, "{body}: {response:?}");
    }
    // A big list.
    let list: Vec<i64> = (1..=100_000).collect();
    let response = web.post_json("/api/sum", &json!(list).to_string());
    response.assert_status(200);
    assert_eq!(response.json(), json!({"sum": 5_000_050_000_i64}));

    for body in [
        "[9223372036854775807,1]",
        "[-9223372036854775808,-1]",
        "[9223372036854775808]",
        // Floats, as Python's json reads them: a fraction or an exponent.
        "[1.0]",
        "[1e2]",
        "[-0.0]",
    ] {
        web.post_json("/api/sum", body).assert_json_error(422);
    }
    for body in ["[1,2", "", "not json"] {
        web.post_json("/api/sum", body).assert_json_error(400);
    }
    for body in ["[1.5]", "[\"1\"]", "{\"a\": 1}", "3", "[[1]]", "[null]"] {
        // JSON, but not a list of ints: 422.
        web.post_json("/api/sum", body).assert_json_error(422);
    }
    web.send(
        "POST",
        "/api/sum",
        &[("Content-Type", "text/plain")],
        b"[1]",
    )
    .assert_json_error(415);
}

#[test]
fn api_openapi_describes_exactly_the_routes() {
    let web = Web::start("api-openapi");
    let response = web.get("/api/openapi.json");
    response.assert_status(200);
    assert!(
        response.content_type().starts_with("application/json"),
        "{response:?}"
    );
    let doc = response.json();
    let version = doc["openapi"].as_str().unwrap_or("");
    assert!(version.starts_with("3."), "openapi {version:?}: {doc}");
    assert!(doc["info"]["title"].is_string(), "info.title: {doc}");
    let paths = doc["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("no paths: {doc}"));
    // The routes this file tests, with their methods: the REST API, and
    // perhaps the document itself and the course's JSON routes.
    let required: [(&str, &[&str]); 3] = [
        ("/api/users", &["get", "post"]),
        ("/api/users/{id}", &["get", "put", "delete"]),
        ("/api/sum", &["post"]),
    ];
    let optional: [(&str, &[&str]); 4] = [
        ("/api/openapi.json", &["get"]),
        ("/healthz", &["get"]),
        ("/listusers", &["get"]),
        ("/adduser", &["post"]),
    ];
    let mut expected: Vec<(&str, BTreeSet<&str>)> = required
        .iter()
        .chain(optional.iter().filter(|(p, _)| paths.contains_key(*p)))
        .map(|(p, m)| (*p, m.iter().copied().collect()))
        .collect();
    expected.sort();
    let keys: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
    let expected_keys: BTreeSet<&str> = expected.iter().map(|(p, _)| *p).collect();
    assert_eq!(keys, expected_keys, "paths of {doc}");
    for (path, methods) in expected {
        let described: BTreeSet<&str> = paths[path]
            .as_object()
            .expect("a path item")
            .keys()
            .map(String::as_str)
            .filter(|k| {
                [
                    "get", "put", "post", "delete", "patch", "head", "options", "trace",
                ]
                .contains(k)
            })
            .collect();
        assert_eq!(described, methods, "methods of {path} in {doc}");
    }
}

// 3. The HTTP front end.

#[test]
fn http_head_over_the_limit_is_431_and_a_url_over_it_414() {
    let web = Web::start("http-431");
    let big = "a".repeat(20 * 1024);
    let mut conn = Conn::open(web.addr());
    conn.send(format!("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {big}\r\n\r\n").as_bytes());
    conn.response("GET").assert_status(431);
    // Many small headers over the limit too.
    let mut head = String::from("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for i in 0..1000 {
        head.push_str(&format!("X-H{i}: {}\r\n", "b".repeat(20)));
    }
    head.push_str("\r\n");
    let mut conn = Conn::open(web.addr());
    conn.send(head.as_bytes());
    let response = conn.response("GET");
    assert_eq!(response.status, 431, "too many headers: {response:?}");
    // A long URL.
    let target = format!("/?name={}", "c".repeat(20 * 1024));
    let mut conn = Conn::open(web.addr());
    conn.send(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes());
    let response = conn.response("GET");
    // A request line over the 16 KiB head limit: 414 URI Too Long (RFC
    // 9112 section 3).
    assert_eq!(response.status, 414, "a 20 KiB URL: {response:?}");
    web.get("/").assert_status(200);
}

#[test]
fn http_garbage_is_400() {
    let web = Web::start("http-400");
    for garbage in [
        &b"BLAH\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    ] {
        let mut conn = Conn::open(web.addr());
        conn.send(garbage);
        let response = conn.try_response("GET", WAIT);
        // 505 for an HTTP version other than 1.x, 400 for the rest.
        let expected = if garbage.starts_with(b"GET / HTTP/9.9") {
            505
        } else {
            400
        };
        match response {
            Ok(response) => assert_eq!(
                response.status,
                expected,
                "{:?}: {response:?}",
                String::from_utf8_lossy(garbage)
            ),
            Err(e) => panic!("{:?}: no answer: {e}", String::from_utf8_lossy(garbage)),
        }
        // And the connection is closed after it.
        assert!(
            conn.wait_closed(WAIT).is_ok(),
            "{:?}: the connection stays open",
            String::from_utf8_lossy(garbage)
        );
    }
    web.get("/").assert_status(200);
}

#[test]
fn http_keep_alive_serves_several_requests_on_one_connection() {
    let web = Web::start("http-keep-alive");
    let mut conn = Conn::open(web.addr());
    for i in 0..10 {
        let response = conn.request("GET", &format!("/?name=K{i}"), &[], b"");
        response.assert_status(200);
        assert_eq!(response.version, "HTTP/1.1", "{response:?}");
        assert!(
            response.text().contains(&format!("Hello <b>K{i}</b>!")),
            "{response:?}"
        );
    }
    let response = conn.request(
        "POST",
        "/api/sum",
        &[("Content-Type", "application/json")],
        b"[2,2]",
    );
    assert_eq!(response.json(), json!({"sum": 4}));
    conn.request("GET", "/static/style.css", &[], b"")
        .assert_status(200);
    conn.request("GET", "/missing", &[], b"").assert_status(404);
    conn.request("GET", "/", &[], b"").assert_status(200);
    // `Connection: close`: answered, then closed.
    conn.request("GET", "/", &[("Connection", "close")], b"")
        .assert_status(200);
    assert_eq!(conn.wait_closed(WAIT), Ok(Vec::new()));
}

#[test]
fn http_pipelined_requests_are_answered_in_order() {
    let web = Web::start("http-pipeline");
    let mut conn = Conn::open(web.addr());
    let mut bytes = Vec::new();
    for i in 0..20 {
        bytes.extend(request_bytes("GET", &format!("/?name=P{i}"), &[], b""));
        bytes.extend(request_bytes(
            "POST",
            "/api/sum",
            &[("Content-Type", "application/json")],
            format!("[{i}, 1000]").as_bytes(),
        ));
    }
    bytes.extend(request_bytes("GET", "/static/style.css", &[], b""));
    conn.send(&bytes);
    for i in 0..20 {
        let response = conn.response("GET");
        assert!(
            response.text().contains(&format!("Hello <b>P{i}</b>!")),
            "response {i}: {response:?}"
        );
        let response = conn.response("POST");
        assert_eq!(response.json(), json!({"sum": i + 1000}), "{response:?}");
    }
    assert_eq!(conn.response("GET").text(), "body { color: #123456; }\n");
}

#[test]
fn http_1_0_closes_after_the_response() {
    let web = Web::start("http-1-0");
    let mut conn = Conn::open(web.addr());
    conn.send(b"GET /?name=Old HTTP/1.0\r\n\r\n");
    let response = conn.response("GET");
    response.assert_status(200);
    assert!(
        response.text().contains("Hello <b>Old</b>!"),
        "{response:?}"
    );
    assert_eq!(conn.wait_closed(WAIT), Ok(Vec::new()));
}

#[test]
fn http_head_has_the_headers_but_no_body() {
    let web = Web::start("http-head");
    let get = web.get("/static/style.css");
    let mut conn = Conn::open(web.addr());
    let head = conn.request("HEAD", "/static/style.css", &[], b"");
    head.assert_status(200);
    assert_eq!(head.content_type(), get.content_type(), "{head:?}");
    if let Some(length) = head.header("content-length") {
        assert_eq!(length, get.body.len().to_string(), "{head:?}");
    }
    // No body bytes follow: the next response is read right after.
    let head = conn.request("HEAD", "/?name=H", &[], b"");
    head.assert_status(200);
    let response = conn.request("GET", "/?name=After", &[], b"");
    assert!(
        response.text().contains("Hello <b>After</b>!"),
        "{response:?}"
    );
    assert!(conn.buf.is_empty(), "extra bytes: {:?}", conn.buf);
}

#[test]
fn http_expect_100_continue_is_answered() {
    let web = Web::start("http-expect");
    let mut conn = Conn::open(web.addr());
    conn.send(
        b"POST /api/sum HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 7\r\nExpect: 100-continue\r\n\r\n",
    );
    let interim = conn
        .try_response("POST", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("no 100 Continue within 5 s: {e}"));
    interim.assert_status(100);
    conn.send(b"[1,2,3]");
    let response = conn.response("POST");
    response.assert_status(200);
    assert_eq!(response.json(), json!({"sum": 6}));
    // A body over the limit: refused at once, no 100.
    let mut conn = Conn::open(web.addr());
    conn.send(
        b"POST /api/sum HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 2000000\r\nExpect: 100-continue\r\n\r\n",
    );
    conn.response("POST").assert_json_error(413);
}

#[test]
fn http_chunked_request_body_is_read_and_limited() {
    let web = Web::start("http-chunked");
    let mut conn = Conn::open(web.addr());
    conn.send(
        b"POST /api/sum HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Transfer-Encoding: chunked\r\n\r\n4\r\n[1,2\r\n3;ext=1\r\n,3]\r\n0\r\n\r\n",
    );
    let response = conn.response("POST");
    response.assert_status(200);
    assert_eq!(response.json(), json!({"sum": 6}), "{response:?}");
    // The connection goes on.
    conn.request("GET", "/", &[], b"").assert_status(200);
    // Chunks over the body limit: 413.
    let mut conn = Conn::open(web.addr());
    conn.send(
        b"POST /api/sum HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Transfer-Encoding: chunked\r\n\r\n200000\r\n",
    );
    // From a thread: the server may stop reading once over the limit.
    let mut writer = conn.stream.try_clone().expect("clone the stream");
    let sender = thread::spawn(move || {
        let mut chunk = vec![b' '; 0x200000];
        chunk[0] = b'[';
        let _ = writer.write_all(&chunk);
    });
    conn.response("POST").assert_json_error(413);
    let _ = conn.stream.shutdown(std::net::Shutdown::Both);
    sender.join().expect("the sender thread");
}

#[test]
fn http_slow_client_is_cut_after_the_request_timeout() {
    let web = Web::start_with("http-slow", "reseau.request_timeout: 1\n");
    let start = Instant::now();
    let mut conn = Conn::open(web.addr());
    conn.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    let sent = conn.wait_closed(Duration::from_secs(4));
    let elapsed = start.elapsed();
    assert!(sent.is_ok(), "still open after 4 s: {sent:?}");
    assert!(
        elapsed <= Duration::from_secs(3),
        "cut after {elapsed:?}, the timeout is 1 s"
    );
    assert!(
        elapsed >= Duration::from_millis(900),
        "cut after {elapsed:?}"
    );
    let sent = String::from_utf8_lossy(&sent.unwrap_or_default()).into_owned();
    assert_408_then_close(&sent);
    // A client that dribbles a byte at a time is cut too: the timeout is
    // for the whole head, not between bytes. It is answered (then the
    // server drops what it still sends, for a while, before closing).
    let start = Instant::now();
    let mut conn = Conn::open(web.addr());
    let mut answer = Vec::new();
    for byte in b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if conn.stream.write_all(&[*byte]).is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(100));
        // What the server sent, without waiting.
        conn.stream.set_nonblocking(true).expect("non-blocking");
        let mut chunk = [0u8; 1024];
        let got = conn.stream.read(&mut chunk);
        conn.stream.set_nonblocking(false).expect("blocking");
        match got {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
        if start.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    assert_408_then_close(&String::from_utf8_lossy(&answer));
    assert!(
        start.elapsed() <= Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    // Others are still served.
    web.get("/").assert_status(200);
}

#[test]
fn http_body_that_never_arrives_is_cut_after_the_request_timeout() {
    let web = Web::start_with("http-slow-body", "reseau.request_timeout: 1\n");
    let start = Instant::now();
    let mut conn = Conn::open(web.addr());
    conn.send(
        b"POST /api/sum HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 10\r\n\r\n[1,",
    );
    let sent = conn.wait_closed(Duration::from_secs(4));
    let elapsed = start.elapsed();
    assert!(sent.is_ok(), "still open after 4 s: {sent:?}");
    assert!(
        elapsed <= Duration::from_secs(3),
        "cut after {elapsed:?}, the timeout is 1 s"
    );
    let sent = String::from_utf8_lossy(&sent.unwrap_or_default()).into_owned();
    assert_408_then_close(&sent);
    web.get("/").assert_status(200);
}

/// What a client whose request timed out got: a 408 that says why, which
/// closes the connection.
fn assert_408_then_close(sent: &str) {
    assert!(
        sent.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "a 408 before closing: {sent:?}"
    );
    assert!(sent.contains("Connection: close\r\n"), "{sent:?}");
    assert!(sent.contains("did not arrive within 1 s"), "{sent:?}");
}

#[test]
fn http_idle_connections_are_closed_after_the_idle_timeout() {
    let web = Web::start_with("http-idle", "server.socket_timeout: 1\n");
    // After a request, on a keep-alive connection.
    let start = Instant::now();
    let mut conn = Conn::open(web.addr());
    conn.request("GET", "/", &[], b"").assert_status(200);
    let rest = conn.wait_closed(Duration::from_secs(4));
    assert_eq!(rest, Ok(Vec::new()), "closed, with nothing more sent");
    let elapsed = start.elapsed();
    assert!(
        (Duration::from_millis(900)..=Duration::from_secs(3)).contains(&elapsed),
        "closed after {elapsed:?}, the idle timeout is 1 s"
    );
    // A connection that never sends a byte.
    let start = Instant::now();
    let mut conn = Conn::open(web.addr());
    let rest = conn.wait_closed(Duration::from_secs(4));
    assert!(rest.is_ok(), "still open after 4 s: {rest:?}");
    assert!(
        start.elapsed() <= Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    // A busy connection is not idle: requests 0.4 s apart for 2 s.
    let mut conn = Conn::open(web.addr());
    for _ in 0..5 {
        conn.request("GET", "/", &[], b"").assert_status(200);
        thread::sleep(Duration::from_millis(400));
    }
    conn.request("GET", "/", &[], b"").assert_status(200);
}

#[test]
fn http_connections_over_the_cap_are_closed_and_the_others_served() {
    let web = Web::start_with("http-cap", "reseau.max_connections: 4\n");
    // Four connections, each answered once (so each is surely accepted).
    let mut held: Vec<Conn> = (0..4)
        .map(|_| {
            let mut conn = Conn::open(web.addr());
            conn.request("GET", "/", &[], b"").assert_status(200);
            conn
        })
        .collect();
    // A fifth is closed without an answer.
    let mut over = Conn::open(web.addr());
    over.send(&request_bytes("GET", "/", &[], b""));
    let rest = over.wait_closed(WAIT);
    assert!(rest.is_ok(), "the fifth connection stays open: {rest:?}");
    web.server.wait_log(0, &["refused", "4 connections"]);
    // The four are still served.
    for conn in &mut held {
        conn.request("GET", "/?name=Held", &[], b"")
            .assert_status(200);
    }
    // Once one is closed, a new one is served.
    held.pop();
    let deadline = Instant::now() + WAIT;
    loop {
        let mut conn = Conn::open(web.addr());
        conn.send(&request_bytes("GET", "/", &[("Connection", "close")], b""));
        match conn.try_response("GET", WAIT) {
            Ok(response) => {
                response.assert_status(200);
                break;
            }
            // The server may not have seen the close yet.
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("no connection served after one of the four closed: {e}"),
        }
    }
}

#[test]
fn http_32_keep_alive_connections_opened_at_once_are_answered_promptly() {
    let web = Web::start("http-burst");
    let addr = web.addr();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(32));
    let threads: Vec<_> = (0..32)
        .map(|t| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                let mut conn = Conn::open(addr);
                let response = conn.request("GET", &format!("/?name=B{t}"), &[], b"");
                let took = start.elapsed();
                response.assert_status(200);
                // The connection stays usable.
                conn.request("GET", "/listusers", &[], b"")
                    .assert_status(200);
                took
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for thread in threads {
        slowest = slowest.max(thread.join().expect("a client thread failed"));
    }
    // The benchmark's target is 100 ms on a quiet machine; here the other
    // tests run at the same time.
    assert!(
        slowest < Duration::from_secs(2),
        "the slowest first answer took {slowest:?}"
    );
}

/// The `Threads:` of `/proc/<pid>/status` (Linux).
fn thread_count(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Threads: line")
}

#[test]
fn http_idle_and_slow_connections_add_no_threads_and_block_no_one() {
    let web = Web::start("http-idle-many");
    let before = thread_count(web.server.proc.id());
    // 300 idle connections and 30 that send half a head.
    let idle: Vec<Conn> = (0..300).map(|_| Conn::open(web.addr())).collect();
    let slow: Vec<Conn> = (0..30)
        .map(|_| {
            let mut conn = Conn::open(web.addr());
            conn.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
            conn
        })
        .collect();
    // A normal request is answered at once.
    let start = Instant::now();
    web.get("/?name=Quick").assert_status(200);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "answered in {took:?}");
    let during = thread_count(web.server.proc.id());
    assert!(
        during <= before + 2,
        "{before} threads before, {during} with 330 connections open"
    );
    drop(idle);
    drop(slow);
    web.get("/").assert_status(200);
}

#[test]
fn http_many_clients_at_once_are_all_answered() {
    let web = Web::start("http-concurrency");
    let addr = web.addr();
    let start = Instant::now();
    let threads: Vec<_> = (0..20)
        .map(|t| {
            thread::spawn(move || {
                // Half on one keep-alive connection, half on a new one each.
                let mut conn = Conn::open(addr);
                for r in 0..20 {
                    let target = format!("/?name=T{t}R{r}");
                    let response = if r % 2 == 0 {
                        conn.request("GET", &target, &[], b"")
                    } else {
                        Conn::open(addr).request("GET", &target, &[("Connection", "close")], b"")
                    };
                    response.assert_status(200);
                    assert!(
                        response.text().contains(&format!("Hello <b>T{t}R{r}</b>!")),
                        "{response:?}"
                    );
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a client thread failed");
    }
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "400 requests took {:?}",
        start.elapsed()
    );
    // And writers at once: 20 threads add users.
    let threads: Vec<_> = (0..20)
        .map(|t| {
            thread::spawn(move || {
                let body = json!({ "name": format!("Writer{t}") }).to_string();
                let response = Conn::open(addr).request(
                    "POST",
                    "/api/users",
                    &[
                        ("Content-Type", "application/json"),
                        ("Connection", "close"),
                    ],
                    body.as_bytes(),
                );
                response.assert_status(201);
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a writer thread failed");
    }
    assert_eq!(web.listusers().len(), 23);
}

// 4. Data, signals, log.

#[test]
fn data_survives_kill_9() {
    let mut web = Web::start("kill-9");
    create_user(&web, "Durable");
    let response = web.post_json("/adduser", r#"{"name": "Durable2"}"#);
    response.assert_status(200);
    send_signal(web.server.proc.id(), "KILL");
    assert!(
        web.server.proc.wait_exit(WAIT).is_some(),
        "the server did not die"
    );
    assert!(
        postgres_cluster().is_some() || web.db().is_file(),
        "no database file at {}",
        web.db().display()
    );
    web.server = start_web(web.dir.path());
    assert_eq!(
        web.listusers(),
        ["CBF", "LUR", "VRL", "Durable", "Durable2"],
        "after kill -9 and a restart"
    );
    // Deleted stays deleted, and the sample users are not added again.
    let response = web.get("/api/users?per_page=100");
    let cbf = api_users(&response)
        .into_iter()
        .find(|u| u["name"] == "CBF")
        .expect("CBF");
    let path = format!("/api/users/{}", cbf["id"].to_string().trim_matches('"'));
    let response = web.send("DELETE", &path, &[], b"");
    assert_eq!(response.status, 204, "{response:?}");
    send_signal(web.server.proc.id(), "KILL");
    assert!(web.server.proc.wait_exit(WAIT).is_some());
    web.server = start_web(web.dir.path());
    assert_eq!(web.listusers(), ["LUR", "VRL", "Durable", "Durable2"]);
}

#[test]
fn data_every_acknowledged_write_survives_kill_9_under_load() {
    let mut web = Web::start("kill-9-load");
    let addr = web.addr();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for n in 0.. {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let name = format!("W{t}N{n}");
                    let body = json!({ "name": name }).to_string();
                    let Ok(stream) = TcpStream::connect(addr) else {
                        break;
                    };
                    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
                    let mut conn = Conn {
                        stream,
                        buf: Vec::new(),
                    };
                    let request = request_bytes(
                        "POST",
                        "/api/users",
                        &[
                            ("Content-Type", "application/json"),
                            ("Connection", "close"),
                        ],
                        body.as_bytes(),
                    );
                    if conn.stream.write_all(&request).is_err() {
                        break;
                    }
                    // Killed in the middle: no answer, not acknowledged.
                    match conn.try_response("POST", WAIT) {
                        Ok(response) if response.status == 201 => acknowledged.push(name),
                        Ok(response) => panic!("{name}: {response:?}"),
                        Err(_) => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(500));
    send_signal(web.server.proc.id(), "KILL");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.join().expect("a writer thread failed"));
    }
    assert!(
        web.server.proc.wait_exit(WAIT).is_some(),
        "the server did not die"
    );
    assert!(
        !acknowledged.is_empty(),
        "no write was acknowledged in 0.5 s"
    );
    web.server = start_web(web.dir.path());
    let listed = web.listusers();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|name| !listed.contains(name))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged users lost after kill -9: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
}

/// Is `line` an access-log line for `method path` with `status`?
fn is_access_line(line: &str, method: &str, path: &str, status: u16) -> bool {
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == '"')
        .collect();
    words.contains(&method)
        && words
            .iter()
            .any(|w| *w == path || w.starts_with(&format!("{path}?")))
        && words.contains(&status.to_string().as_str())
}

/// Waits (5 s at most: lines are written at once) for an access-log line.
fn wait_access_line(web: &Web, method: &str, path: &str, status: u16, why: &str) {
    web.server
        .proc
        .stderr
        .wait_for(0, Duration::from_secs(5), |l| {
            is_access_line(l, method, path, status)
        })
        .unwrap_or_else(|| {
            panic!(
                "no access-log line for {method} {path} {status} ({why}) within 5 s: {:#?}",
                web.server.log()
            )
        });
}

#[test]
fn access_log_has_one_line_per_request() {
    let web = Web::start("access-log");
    let requests: [(&str, &str, &[u8], u16); 6] = [
        ("GET", "/accueil", b"", 200),
        ("GET", "/log-missing-page", b"", 404),
        ("POST", "/login", b"name=Logged", 200),
        ("GET", "/static/app.js", b"", 200),
        ("POST", "/api/sum", b"[1,", 400),
        ("HEAD", "/index", b"", 200),
    ];
    let mut conn = Conn::open(web.addr());
    for (method, path, body, status) in requests {
        let content_type = if path == "/login" {
            "application/x-www-form-urlencoded"
        } else {
            "application/json"
        };
        let headers: &[(&str, &str)] = if body.is_empty() {
            &[]
        } else {
            &[("Content-Type", content_type)]
        };
        conn.request(method, path, headers, body)
            .assert_status(status);
    }
    for (method, path, _, status) in requests {
        wait_access_line(&web, method, path, status, "on a keep-alive connection");
    }
    // The last request of a connection that stays open is logged too,
    // without waiting for another request or the end of the connection.
    conn.request("GET", "/home?name=Q", &[], b"")
        .assert_status(200);
    wait_access_line(
        &web,
        "GET",
        "/home",
        200,
        "the last request of a connection still open",
    );
    // A request whose connection the server closes after answering.
    web.get("/log-closed").assert_status(404);
    wait_access_line(&web, "GET", "/log-closed", 404, "Connection: close");
    let mut old = Conn::open(web.addr());
    old.send(b"GET /log-http-1-0 HTTP/1.0\r\n\r\n");
    old.response("GET").assert_status(404);
    wait_access_line(&web, "GET", "/log-http-1-0", 404, "HTTP/1.0");
    // A refused head: a line with its status.
    let big = "a".repeat(20 * 1024);
    let mut refused = Conn::open(web.addr());
    refused.send(format!("GET /log-431 HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes());
    refused.response("GET").assert_status(431);
    web.server
        .proc
        .stderr
        .wait_for(0, Duration::from_secs(5), |l| {
            l.starts_with("web:") && l.split_whitespace().any(|w| w == "431")
        })
        .unwrap_or_else(|| panic!("no line for the 431: {:#?}", web.server.log()));
    // Exactly one line each.
    let log = web.server.log();
    let mut all: Vec<(&str, &str, u16)> =
        requests.iter().map(|(m, p, _, s)| (*m, *p, *s)).collect();
    all.extend([
        ("GET", "/home", 200),
        ("GET", "/log-closed", 404),
        ("GET", "/log-http-1-0", 404),
    ]);
    for (method, path, status) in all {
        let count = log
            .iter()
            .filter(|l| is_access_line(l, method, path, status))
            .count();
        assert_eq!(count, 1, "{method} {path}: {log:#?}");
    }
}

// 5. The config file and the command line.

#[test]
fn config_the_course_server_conf_works_unchanged() {
    let dir = TempDir::new("web-course-conf");
    write_site_files(dir.path());
    let port = unused_port();
    // The handout's file, byte for byte but the port.
    let conf = format!(
        "[global]\nserver.socket_port: {port}\n\n[/static]\ntools.staticdir.on: True\n\
         tools.staticdir.root: os.path.abspath(os.getcwd())\ntools.staticdir.dir: './public'\n"
    );
    std::fs::write(dir.path().join("server.conf"), conf).expect("write server.conf");
    let db = dir.path().join("site.db");
    let server = Server::start_args(
        &[
            "web",
            "--config",
            "server.conf",
            "--db",
            db.to_str().expect("UTF-8 path"),
        ],
        Some(dir.path()),
    );
    assert_eq!(
        server.addr,
        SocketAddr::from(([127, 0, 0, 1], port)),
        "{:#?}",
        server.log()
    );
    let response = Conn::open(server.addr).request("GET", "/static/style.css", &[], b"");
    response.assert_status(200);
    assert_eq!(response.text(), "body { color: #123456; }\n");
    let response = Conn::open(server.addr).request("GET", "/?name=Conf", &[], b"");
    assert!(
        response.text().contains("Hello <b>Conf</b>!"),
        "{response:?}"
    );
    drop(server);

    // With `server.socket_host` and Python's quoting styles.
    let port = unused_port();
    let conf = format!(
        "[global]\nserver.socket_host: \"127.0.0.1\"\nserver.socket_port: {port}\n\n\
         [/static]\ntools.staticdir.on: True\ntools.staticdir.root: '{}'\n\
         tools.staticdir.dir: \"public\"\n",
        dir.path().display()
    );
    std::fs::write(dir.path().join("server2.conf"), conf).expect("write server2.conf");
    let server = Server::start_args(
        &[
            "web",
            "--config",
            "server2.conf",
            "--db",
            db.to_str().expect("UTF-8 path"),
        ],
        Some(dir.path()),
    );
    assert_eq!(server.addr.port(), port);
    let response = Conn::open(server.addr).request("GET", "/static/app.js", &[], b"");
    response.assert_status(200);
}

/// Starts `reseau web --config <conf>` and expects it to fail: returns
/// its stderr.
fn config_fails(name: &str, conf: &str) -> String {
    let dir = TempDir::new(&format!("web-conf-{name}"));
    std::fs::create_dir_all(dir.path().join("public")).expect("mkdir public");
    std::fs::write(dir.path().join("server.conf"), conf).expect("write server.conf");
    let db = dir.path().join("site.db");
    let mut command = reseau(&[
        "web",
        "--config",
        "server.conf",
        "--db",
        db.to_str().expect("UTF-8 path"),
        "--bind",
        "127.0.0.1:0",
    ]);
    command.current_dir(dir.path());
    let out = run(command);
    // Exit status 2: the site could not start (host/src/exit.rs).
    assert_eq!(out.code(), Some(2), "{name}: must fail: {out:?}");
    assert!(
        !out.stderr.iter().any(|l| l.contains("listening on")),
        "{name}: {out:?}"
    );
    assert!(
        !out.stderr.iter().any(|l| l.contains("panicked")),
        "{name}: an error, not a panic: {out:?}"
    );
    out.stderr.join("\n")
}

/// Does `text` name line `n` (`line 3`, `:3:`)?
fn names_line(text: &str, n: usize) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains(&format!("line {n}")) || lower.contains(&format!(":{n}:"))
}

#[test]
fn config_an_unknown_key_fails_with_its_line_number() {
    let stderr = config_fails(
        "unknown-key",
        "[global]\nserver.socket_port: 0\n\nserver.sokcet_host: '127.0.0.1'\n",
    );
    assert!(names_line(&stderr, 4), "{stderr}");
    assert!(stderr.contains("server.sokcet_host"), "{stderr}");
    let stderr = config_fails(
        "unknown-section-key",
        "[global]\nserver.socket_port: 0\n[/static]\ntools.staticdir.on: True\ntools.staticdir.bogus: 1\n",
    );
    assert!(names_line(&stderr, 5), "{stderr}");
}

#[test]
fn config_a_bad_value_fails_with_its_line_number() {
    for (name, conf, line) in [
        ("port-string", "[global]\nserver.socket_port: 'abc'\n", 2),
        ("port-range", "[global]\n\nserver.socket_port: 70000\n", 3),
        (
            "bool",
            "[global]\nserver.socket_port: 0\n[/static]\ntools.staticdir.on: Maybe\n",
            4,
        ),
        (
            "expression",
            "[global]\nserver.socket_port: 0\n[/static]\ntools.staticdir.on: True\n\
             tools.staticdir.root: __import__('os').getcwd()\ntools.staticdir.dir: './public'\n",
            5,
        ),
        ("no-colon", "[global]\nserver.socket_port 8080\n", 2),
        (
            "unterminated",
            "[global]\nserver.socket_port: 0\nserver.socket_host: '127.0.0.1\n",
            3,
        ),
        (
            "timeout",
            "[global]\nserver.socket_port: 0\nreseau.request_timeout: 'soon'\n",
            3,
        ),
        (
            "threads",
            "[global]\nserver.socket_port: 0\nreseau.threads: 1025\n",
            3,
        ),
    ] {
        let stderr = config_fails(name, conf);
        assert!(names_line(&stderr, line), "{name}: line {line}: {stderr}");
    }
}

#[test]
fn config_a_missing_file_fails() {
    let dir = TempDir::new("web-conf-missing");
    let out = run(reseau(&[
        "web",
        "--config",
        dir.path().join("nope.conf").to_str().expect("UTF-8 path"),
        "--bind",
        "127.0.0.1:0",
    ]));
    assert_eq!(out.code(), Some(2), "{out:?}");
    assert!(out.stderr.join("\n").contains("nope.conf"), "{out:?}");
}

#[test]
fn config_the_bind_flag_overrides_the_file() {
    let dir = TempDir::new("web-conf-bind");
    write_site_files(dir.path());
    let port = unused_port();
    std::fs::write(
        dir.path().join("server.conf"),
        config_text(dir.path(), "").replace(
            "server.socket_port: 0",
            &format!("server.socket_port: {port}"),
        ),
    )
    .expect("write server.conf");
    let server = start_web(dir.path());
    assert_ne!(server.addr.port(), port, "--bind wins: {:#?}", server.log());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on the file's port"
    );
    let response = Conn::open(server.addr).request("GET", "/static/style.css", &[], b"");
    response.assert_status(200);
}

#[test]
fn config_our_own_keys_set_the_database_and_the_limits() {
    let dir = TempDir::new("web-conf-own-keys");
    write_site_files(dir.path());
    let db = dir.path().join("from-conf.db");
    let extra = format!(
        "reseau.db: '{}'\nserver.max_request_body_size: 100\nserver.max_request_header_size: 2048\n",
        db.display()
    );
    std::fs::write(
        dir.path().join("server.conf"),
        config_text(dir.path(), &extra),
    )
    .expect("write server.conf");
    let server = Server::start_args(
        &["web", "--config", "server.conf", "--bind", "127.0.0.1:0"],
        Some(dir.path()),
    );
    let post = |body: &str| {
        Conn::open(server.addr).request(
            "POST",
            "/api/sum",
            &[
                ("Content-Type", "application/json"),
                ("Connection", "close"),
            ],
            body.as_bytes(),
        )
    };
    assert_eq!(post("[1,2,3]").json(), json!({"sum": 6}));
    let list = format!("[{}]", vec!["1"; 60].join(","));
    post(&list).assert_json_error(413);
    let big_header = "h".repeat(3000);
    let response = Conn::open(server.addr).request("GET", "/", &[("X-Big", &big_header)], b"");
    response.assert_status(431);
    let response = Conn::open(server.addr).request(
        "POST",
        "/api/users",
        &[("Content-Type", "application/json")],
        br#"{"name": "InConfDb"}"#,
    );
    response.assert_status(201);
    assert!(db.is_file(), "the database is at reseau.db's path");
}

// 6. `reseau serve`: the whole course at once.

/// The address of the `<name>: listening on ADDR` line of `proc`.
fn listening_on(proc: &Proc, name: &str) -> SocketAddr {
    let prefix = format!("{name}: listening on ");
    let (_, line) = proc
        .stderr
        .wait_for(0, WAIT, |l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}...` line: {:#?}", proc.stderr.all()));
    line[prefix.len()..]
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"))
}

#[test]
fn serve_runs_the_site_echo_and_the_adder_and_one_signal_stops_all() {
    let dir = TempDir::new("serve-all");
    write_site_files(dir.path());
    std::fs::write(dir.path().join("server.conf"), config_text(dir.path(), ""))
        .expect("write server.conf");
    let db = dir.path().join("site.db");
    let mut command = reseau(&[
        "serve",
        "--config",
        "server.conf",
        "--bind",
        "127.0.0.1:0",
        "--db",
        db.to_str().expect("UTF-8 path"),
        "--echo",
        "127.0.0.1:0",
        "--adder",
        "127.0.0.1:0",
    ]);
    command.current_dir(dir.path());
    let mut proc = Proc::spawn(command, None);
    let web = listening_on(&proc, "web");
    let echo = listening_on(&proc, "echo");
    let adder = listening_on(&proc, "adder");

    // The site, with the config's static folder.
    let response = Conn::open(web).request("GET", "/?name=All", &[], b"");
    assert!(
        response.text().contains("Hello <b>All</b>!"),
        "{response:?}"
    );
    let response = Conn::open(web).request("GET", "/static/style.css", &[], b"");
    assert_eq!(response.text(), "body { color: #123456; }\n");
    // Echo.
    let mut stream = connect(echo);
    stream.write_all(b"Hello echo!").expect("send to echo");
    assert_eq!(
        read_exactly(&mut stream, 11, WAIT),
        Ok(b"Hello echo!".to_vec())
    );
    drop(stream);
    // The adder, with our client.
    let out = run(reseau(&[
        "adder",
        "sum",
        "--to",
        &adder.to_string(),
        "1",
        "2",
        "3",
    ]));
    assert_eq!(
        (out.code(), out.stdout.as_slice()),
        (Some(0), &["6".to_string()][..]),
        "{out:?}"
    );

    send_signal(proc.id(), "TERM");
    let status = proc
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no exit within 5 s of SIGTERM: {:#?}", proc.stderr.all()));
    assert!(status.success(), "{status}: {:#?}", proc.stderr.all());
    assert!(proc.stderr.wait_closed(WAIT), "stderr closed");
    let log = proc.stderr.all();
    for name in ["web", "echo", "adder"] {
        assert!(
            log.iter()
                .any(|l| l.starts_with(&format!("{name}:")) && l.contains("SIGTERM")),
            "{name} says it stops: {log:#?}"
        );
    }
}
