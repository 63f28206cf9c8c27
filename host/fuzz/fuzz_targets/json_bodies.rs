//! The web handlers' JSON bodies, called directly (`web::api::route` for
//! `POST /api/sum`, `POST /api/users`, `PUT /api/users/{id}`, and
//! `api::add_user_course` for the course's `POST /adduser`), on a real
//! SQLite file in a temporary folder.
//!
//! Invariants: no panic; every answer is one of the route's documented
//! statuses (never 500) with an `application/json` body that is JSON,
//! `{"error": "..."}` for an error; 415 exactly when the Content-Type is
//! not JSON, 413 exactly when the body is over the limit; `/api/sum`
//! answers what an independent reading of the list gives (Python's
//! `json`: the sum of the ints, 400 if not JSON, 422 otherwise); a
//! created or renamed user is then read back the same, with its
//! `Location`; a name made of `[a-z0-9]` is created unless a user has it
//! (409 then, checked against the database).

#![no_main]

use std::collections::HashSet;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use reseau_host::web::api;
use reseau_host::web::db::{Db, Location};
use reseau_host_fuzz::json::{SumAnswer, sum_answer};
use serde_json::{Value, json};

#[derive(Debug, Arbitrary)]
enum Call {
    Sum,
    CreateUser,
    /// `PUT /api/users/{1 + b % 8}`.
    Rename(u8),
    CourseAdd,
}

#[derive(Debug, Arbitrary)]
enum ContentType {
    Json,
    JsonCharset,
    JsonQuotedCharset,
    Latin1,
    Text,
    Missing,
    Other(String),
}

impl ContentType {
    /// The header, and whether it is JSON (`None`: not known here).
    fn header(&self) -> (Option<String>, Option<bool>) {
        let (value, json) = match self {
            ContentType::Json => ("application/json", true),
            ContentType::JsonCharset => ("application/json; charset=utf-8", true),
            ContentType::JsonQuotedCharset => ("Application/JSON;charset=\"UTF-8\"", true),
            ContentType::Latin1 => ("application/json; charset=latin-1", false),
            ContentType::Text => ("text/plain", false),
            ContentType::Missing => return (None, Some(false)),
            ContentType::Other(other) => return (Some(other.clone()), None),
        };
        (Some(value.to_owned()), Some(json))
    }
}

/// A number in a list, as text.
#[derive(Debug, Arbitrary)]
enum Num {
    Int(i64),
    Small(i8),
    MinusZero,
    Edge(u8),
    Float(u8),
}

impl Num {
    fn text(&self) -> String {
        match self {
            Num::Int(n) => n.to_string(),
            Num::Small(n) => n.to_string(),
            Num::MinusZero => "-0".into(),
            Num::Edge(b) => [
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775808",
                "-9223372036854775809",
                "18446744073709551615",
                "18446744073709551616",
                "-18446744073709551616",
                "123456789012345678901234567890",
            ][usize::from(*b) % 8]
                .into(),
            Num::Float(b) => ["1.5", "1e3", "-0.0", "0E0", "1.0", "-1e-2", "2E+1", "1e400"]
                [usize::from(*b) % 8]
                .into(),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Body {
    Raw(Vec<u8>),
    /// A list of numbers, with JSON whitespace from the bytes.
    Numbers(Vec<Num>, Vec<u8>),
    /// `{"name": ...}`, maybe with another field, maybe encoded twice (a
    /// JSON string holding the object, as the course's client sends).
    Name {
        name: String,
        extra: bool,
        twice: bool,
    },
    /// `{"name": "[a-z0-9]+"}`.
    Plain(Vec<u8>),
}

impl Body {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Body::Raw(raw) => raw.clone(),
            Body::Numbers(nums, spaces) => {
                let space = |i: usize| {
                    match spaces.get(i).map(|b| b % 8) {
                        Some(0) => " ",
                        Some(1) => "\n",
                        Some(2) => "\t ",
                        Some(3) => "\r\n",
                        _ => "",
                    }
                    .to_owned()
                };
                let mut text = format!("{}[", space(0));
                for (i, num) in nums.iter().enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    text.push_str(&space(i + 1));
                    text.push_str(&num.text());
                    text.push_str(&space(i + 2));
                }
                text.push(']');
                text.into_bytes()
            }
            Body::Name { name, extra, twice } => {
                let mut object = json!({ "name": name });
                if *extra {
                    object["extra"] = json!([1, "x"]);
                }
                let text = object.to_string();
                if *twice {
                    Value::String(text).to_string().into_bytes()
                } else {
                    text.into_bytes()
                }
            }
            Body::Plain(bytes) => json!({ "name": plain(bytes) }).to_string().into_bytes(),
        }
    }
}

/// A name of `[a-z0-9]`, 1 to 64 characters.
fn plain(bytes: &[u8]) -> String {
    const SET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let name: String = bytes
        .iter()
        .take(64)
        .map(|&b| char::from(SET[usize::from(b) % SET.len()]))
        .collect();
    if name.is_empty() { "a".into() } else { name }
}

#[derive(Debug, Arbitrary)]
struct Input {
    call: Call,
    content_type: ContentType,
    limit: u8,
    body: Body,
}

struct Site {
    db: Db,
    /// Every user name the answers told of (the three the database starts
    /// with too).
    names: Mutex<HashSet<String>>,
}

/// One database per process, in a folder of its own (on tmpfs when there
/// is one: SQLite syncs every write); the folders of processes that are
/// gone are removed first.
fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        let base = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        }
        .join("reseau-host-fuzz");
        if let Ok(entries) = std::fs::read_dir(&base) {
            for entry in entries.flatten() {
                let pid = entry.file_name().to_string_lossy().into_owned();
                if !PathBuf::from("/proc").join(&pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = base.join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder for the database");
        let db = Db::open(&Location::Sqlite(dir.join("site.db")), 1).expect("the database opens");
        let names = db.names().expect("the names").into_iter().collect();
        Site {
            db,
            names: Mutex::new(names),
        }
    })
}

struct Answer {
    status: u16,
    location: Option<String>,
    json: Value,
}

fn call(
    method: &str,
    url: &str,
    content_type: Option<&str>,
    body: &[u8],
    f: impl FnOnce(&rouille::Request) -> rouille::Response,
) -> Answer {
    let headers = content_type
        .map(|ct| vec![("Content-Type".to_owned(), ct.to_owned())])
        .unwrap_or_default();
    let request = rouille::Request::fake_http(method, url, headers, body.to_vec());
    let response = f(&request);
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_string())
    };
    let status = response.status_code;
    assert_eq!(
        header("Content-Type").as_deref(),
        Some("application/json"),
        "{method} {url}: {status} is not JSON"
    );
    let location = header("Location");
    let (mut reader, _) = response.data.into_reader_and_size();
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).expect("the answer reads");
    let json: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{method} {url}: {status} body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    if status >= 400 {
        assert!(
            json["error"].is_string() && json.as_object().is_some_and(|o| o.len() == 1),
            "{method} {url}: {status} body {json}"
        );
    }
    Answer {
        status,
        location,
        json,
    }
}

/// A user as the API shows it; its id and name.
fn user(json: &Value) -> (i64, String) {
    let id = json["id"].as_i64().filter(|id| *id > 0);
    let name = json["name"].as_str();
    match (id, name, json.as_object().map(|o| o.len())) {
        (Some(id), Some(name), Some(2)) => (id, name.to_owned()),
        _ => panic!("not a user: {json}"),
    }
}

/// The `name` of a body the way a JSON client reads it, if it is a
/// `[a-z0-9]` one.
fn plain_name(body: &[u8], twice: bool) -> Option<String> {
    let mut value: Value = serde_json::from_slice(body).ok()?;
    if twice && let Value::String(inner) = &value {
        value = serde_json::from_str(inner).ok()?;
    }
    let name = value.as_object()?.get("name")?.as_str()?;
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    plain.then(|| name.to_owned())
}

fuzz_target!(|input: Input| {
    let site = site();
    let db = &site.db;
    let (content_type, is_json) = input.content_type.header();
    let max_body = [16, 64, 1024, 1024 * 1024][usize::from(input.limit % 4)];
    let body = input.body.bytes();
    let (method, url, documented): (&str, String, &[u16]) = match input.call {
        Call::Sum => ("POST", "/api/sum".into(), &[200, 400, 413, 415, 422]),
        Call::CreateUser => ("POST", "/api/users".into(), &[201, 400, 409, 413, 415, 422]),
        Call::Rename(b) => (
            "PUT",
            format!("/api/users/{}", 1 + b % 8),
            &[200, 400, 404, 409, 413, 415, 422],
        ),
        Call::CourseAdd => ("POST", "/adduser".into(), &[200, 400, 409, 413, 415, 422]),
    };
    let path = url.strip_prefix("/api").unwrap_or(&url).to_owned();
    // A rename frees the old name: read it first.
    let old_name = match input.call {
        Call::Rename(_) => {
            let got = call("GET", &url, None, b"", |r| {
                api::route(r, "GET", &path, db, max_body)
            });
            (got.status == 200).then(|| user(&got.json).1)
        }
        _ => None,
    };
    let answer = call(
        method,
        &url,
        content_type.as_deref(),
        &body,
        |request| match input.call {
            Call::CourseAdd => api::add_user_course(request, db, max_body),
            _ => api::route(request, method, &path, db, max_body),
        },
    );
    let status = answer.status;
    let context = format!(
        "{method} {url} {content_type:?} ({} bytes, limit {max_body}) {:?} answered {status} {}",
        body.len(),
        String::from_utf8_lossy(&body),
        answer.json
    );
    assert!(documented.contains(&status), "undocumented: {context}");
    match is_json {
        Some(true) => assert_ne!(status, 415, "{context}"),
        Some(false) => assert_eq!(status, 415, "{context}"),
        None => {}
    }
    if status == 415 {
        return;
    }
    if body.len() > max_body {
        assert_eq!(status, 413, "{context}");
        return;
    }
    assert_ne!(status, 413, "{context}");

    match input.call {
        Call::Sum => {
            let expected = sum_answer(&body);
            let got = match status {
                200 => {
                    let sum = answer.json["sum"].as_i64();
                    assert!(
                        sum.is_some() && answer.json.as_object().is_some_and(|o| o.len() == 1),
                        "{context}"
                    );
                    SumAnswer::Sum(sum.unwrap_or_default())
                }
                400 => SumAnswer::Malformed,
                _ => SumAnswer::Refused,
            };
            assert!(got == expected, "expected {expected:?}: {context}");
        }
        Call::CreateUser | Call::Rename(_) | Call::CourseAdd => {
            let mut names = site.names.lock().unwrap_or_else(|e| e.into_inner());
            let twice = matches!(input.call, Call::CourseAdd)
                && matches!(input.body, Body::Name { twice: true, .. });
            let plain = plain_name(&body, twice);
            match status {
                201 | 200 if !matches!(input.call, Call::CourseAdd) => {
                    let (id, name) = user(&answer.json);
                    if let Call::CreateUser = input.call {
                        assert_eq!(
                            answer.location.as_deref(),
                            Some(format!("/api/users/{id}").as_str()),
                            "{context}"
                        );
                        assert!(
                            !names.contains(&name),
                            "a second user named {name:?}: {context}"
                        );
                    } else if let Some(old) = &old_name {
                        names.remove(old);
                    }
                    if let Some(plain) = &plain {
                        assert_eq!(&name, plain, "{context}");
                    }
                    let back = call("GET", &format!("/api/users/{id}"), None, b"", |r| {
                        api::route(r, "GET", &format!("/users/{id}"), db, max_body)
                    });
                    assert_eq!(back.status, 200, "{context}");
                    assert_eq!(back.json, answer.json, "read back: {context}");
                    names.insert(name);
                }
                200 => {
                    assert_eq!(answer.json, json!({ "OK": true }), "{context}");
                    // Other names: their stored form is the site's to
                    // choose; a 409 for them is checked against the
                    // database.
                    if let Some(plain) = plain {
                        assert!(
                            !names.contains(&plain),
                            "a second user named {plain:?}: {context}"
                        );
                        names.insert(plain);
                    }
                }
                409 => {
                    if let Some(plain) = &plain
                        && !names.contains(plain)
                    {
                        assert!(
                            db.names().expect("the names").contains(plain),
                            "409 for a name no user has: {context}"
                        );
                        names.insert(plain.clone());
                    }
                }
                404 => assert!(
                    old_name.is_none(),
                    "404 for a user that is there: {context}"
                ),
                _ => {
                    if let (Some(plain), Call::CreateUser) = (&plain, &input.call) {
                        panic!("{plain:?} refused: {context}");
                    }
                }
            }
        }
    }
});
