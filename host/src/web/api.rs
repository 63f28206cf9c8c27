//! The JSON routes: the course's `/listusers` and `/adduser`, and the REST
//! API under `/api` (users, sums, and its OpenAPI description).
//!
//! Every error is `{"error": "<what went wrong>"}` with its status: 400
//! malformed JSON, 404 unknown id or path, 405 (with `Allow`), 409 duplicate
//! name, 413 body over the limit, 415 not `application/json`, 422 a value
//! that is JSON but not what the route takes, 500 the database failed.

use std::io::Read;

use reseau_core::adder::native::{ErrorCode, Sum};
use rouille::{Request, Response};
use serde_json::{Value, json};

use super::db::{Db, DbError, User};

/// Longest user name, in characters (not bytes).
pub const MAX_NAME_CHARS: usize = 64;
/// Users per page when the query does not say.
pub const DEFAULT_PER_PAGE: u64 = 20;
/// Most users per page.
pub const MAX_PER_PAGE: u64 = 100;
/// Highest page number accepted (keeps `(page - 1) * per_page` small).
pub const MAX_PAGE: u64 = 1_000_000_000;

/// The OpenAPI 3 description of these routes, served as is.
pub const OPENAPI: &str = include_str!("../../../web/openapi.json");

/// A JSON answer.
pub fn json_response(status: u16, value: &Value) -> Response {
    Response::from_data("application/json", value.to_string()).with_status_code(status)
}

/// A JSON error answer: `{"error": message}`.
pub fn error(status: u16, message: impl Into<String>) -> Response {
    json_response(status, &json!({ "error": message.into() }))
}

/// 405 with the methods the route takes.
pub fn method_not_allowed(method: &str, allow: &'static str) -> Response {
    error(
        405,
        format!("method {method} is not allowed here; allowed: {allow}"),
    )
    .with_unique_header("Allow", allow)
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit (in bytes).
    TooLarge(usize),
    /// The connection failed while reading.
    Read(std::io::Error),
}

impl BodyError {
    /// The status and message of this error.
    pub fn status_and_message(&self) -> (u16, String) {
        match self {
            BodyError::TooLarge(max) => (
                413,
                format!("the request body is over the {max}-byte limit"),
            ),
            BodyError::Read(e) => (400, format!("could not read the request body: {e}")),
        }
    }
}

/// The request body, at most `max` bytes. The front end enforces the limit
/// before the handler runs; this is the second lock on the same door.
pub fn read_body(request: &Request, max: usize) -> Result<Vec<u8>, BodyError> {
    let Some(body) = request.data() else {
        return Ok(Vec::new());
    };
    let mut bytes = Vec::new();
    let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    body.take(cap)
        .read_to_end(&mut bytes)
        .map_err(BodyError::Read)?;
    if bytes.len() > max {
        return Err(BodyError::TooLarge(max));
    }
    Ok(bytes)
}

/// True for `application/json`, optionally with `charset=utf-8`.
pub fn is_json_content_type(value: &str) -> bool {
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case("application/json")
        && parts.all(|param| {
            let param = param.trim();
            param.is_empty()
                || param.split_once('=').is_some_and(|(key, value)| {
                    key.trim().eq_ignore_ascii_case("charset")
                        && value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
                })
        })
}

/// The JSON body of a request: 415, 413 or 400 if there is none.
pub fn json_body(request: &Request, max: usize) -> Result<Value, Response> {
    let bytes = json_bytes(request, max)?;
    parse_json(&bytes)
}

/// A JSON document (RFC 8259), or 400.
fn parse_json(bytes: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice(bytes).map_err(|e| error(400, format!("malformed JSON: {e}")))
}

/// The bytes of a request's body sent as JSON: 415 or 413 otherwise.
fn json_bytes(request: &Request, max: usize) -> Result<Vec<u8>, Response> {
    match request.header("Content-Type") {
        Some(ct) if is_json_content_type(ct) => {}
        Some(ct) => {
            return Err(error(
                415,
                format!("Content-Type must be application/json, got {ct:?}"),
            ));
        }
        None => {
            return Err(error(
                415,
                "Content-Type must be application/json, got none",
            ));
        }
    }
    read_body(request, max).map_err(|e| {
        let (status, message) = e.status_and_message();
        error(status, message)
    })
}

/// What a JSON value is, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Checks a user name: not empty or blank, at most [`MAX_NAME_CHARS`]
/// characters, and none of the characters that let a name pass for
/// another or hide (Unicode's UTS #39 advice for identifiers): see
/// [`spoofing_char`]. The name is stored as given: refusing is explicit
/// where normalizing would store something the client did not send.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("field \"name\" must not be empty".to_owned());
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(format!(
            "field \"name\" is {chars} characters long, over the {MAX_NAME_CHARS}-character limit"
        ));
    }
    if let Some((at, c, what)) = name
        .chars()
        .enumerate()
        .find_map(|(at, c)| spoofing_char(c).map(|what| (at, c, what)))
    {
        return Err(format!(
            "field \"name\" must not contain {what}: U+{:04X} at character {}",
            u32::from(c),
            at + 1
        ));
    }
    Ok(())
}

/// Why `c` may not be in a user name, if it may not: what makes a name
/// look like another, or hides text.
///
/// - control characters (Cc: C0, DEL, C1);
/// - format characters (Cf) and every Default_Ignorable_Code_Point of
///   Unicode 16 (DerivedCoreProperties.txt): bidi overrides, embeddings,
///   isolates and marks, zero-width spaces and joiners, the word joiner
///   and invisible operators, the soft hyphen, the BOM, variation
///   selectors, tags, Hangul fillers, Mongolian vowel separators...;
/// - line and paragraph separators (Zl, Zp) and whitespace other than
///   the ASCII space (no-break, ideographic, en, em... spaces), so that
///   two names differ in what one sees;
/// - the invisible Braille blank (U+2800), private-use characters and
///   noncharacters.
pub fn spoofing_char(c: char) -> Option<&'static str> {
    let u = u32::from(c);
    if c.is_control() {
        return Some("control characters");
    }
    let bidi = matches!(u, 0x061C | 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069);
    if bidi {
        return Some("bidirectional controls (overrides, isolates, marks)");
    }
    let invisible = matches!(
        u,
        0x00AD
            | 0x034F
            | 0x0600..=0x0605
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200D
            | 0x2060..=0x2065
            | 0x206A..=0x206F
            | 0x2800
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1345F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    );
    if invisible {
        return Some(
            "invisible or format characters (zero-width, joiners, fillers, selectors, tags)",
        );
    }
    if c.is_whitespace() && c != ' ' {
        return Some("whitespace other than the space (U+0020)");
    }
    let private = matches!(u, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD);
    let nonchar = matches!(u, 0xFDD0..=0xFDEF) || (u & 0xFFFE) == 0xFFFE;
    if private || nonchar {
        return Some("private-use characters or noncharacters");
    }
    None
}

/// The `name` of a `{"name": ...}` body, checked; 422 otherwise.
fn name_field(body: &Value) -> Result<String, Response> {
    let Value::Object(fields) = body else {
        return Err(error(
            422,
            format!(
                "the body must be a JSON object with a \"name\" string, got {}",
                kind(body)
            ),
        ));
    };
    match fields.get("name") {
        None => Err(error(422, "field \"name\" is missing")),
        Some(Value::String(name)) => match check_name(name) {
            Ok(()) => Ok(name.clone()),
            Err(message) => Err(error(422, message)),
        },
        Some(other) => Err(error(
            422,
            format!("field \"name\" must be a string, got {}", kind(other)),
        )),
    }
}

/// The answer to a failed database call: the client's errors are 409 and
/// 404 with their message; every other error -- the database unreachable,
/// timed out, out of disk -- is not the client's and may pass, so it is 503
/// `{"error": "database unavailable"}` (the same text whatever the cause:
/// the cause, whose message never holds a password, is in the log).
fn db_error(e: &DbError) -> Response {
    match e {
        DbError::Duplicate(_) => error(409, e.to_string()),
        DbError::NotFound(_) => error(404, e.to_string()),
        _ => {
            eprintln!("web: {e}");
            error(503, DATABASE_UNAVAILABLE)
        }
    }
}

/// The body's `error` when the database failed.
pub const DATABASE_UNAVAILABLE: &str = "database unavailable";

/// `GET /healthz`: 200 `{"status": "ok"}` while the database answers a
/// `SELECT 1` within [`PING_TIMEOUT`](super::db::PING_TIMEOUT), 503
/// `{"status": "unavailable"}` otherwise (the cause in the log), for a load
/// balancer's health check. Never cached.
pub fn healthz(db: &Db) -> Response {
    let (status, word) = match db.ping() {
        Ok(()) => (200, "ok"),
        Err(e) => {
            eprintln!("web: /healthz: {e}");
            (503, "unavailable")
        }
    };
    json_response(status, &json!({ "status": word }))
        .with_unique_header("Cache-Control", "no-store")
}

fn user_json(user: &User) -> Value {
    json!({ "id": user.id, "name": user.name })
}

/// `GET /listusers`: `{"users": [names...]}`.
pub fn list_user_names(db: &Db) -> Response {
    match db.names() {
        Ok(names) => json_response(200, &json!({ "users": names })),
        Err(e) => db_error(&e),
    }
}

/// `POST /adduser`: a `{"name": ...}` object, or a JSON string holding one
/// (the course's client sends `json.dumps(...)` through `json_in`, so the
/// object arrives encoded twice). Answers `{"OK": true}`.
pub fn add_user_course(request: &Request, db: &Db, max_body: usize) -> Response {
    let body = match json_body(request, max_body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let body = match body {
        Value::String(inner) => match serde_json::from_str::<Value>(&inner) {
            Ok(value) => value,
            Err(e) => return error(400, format!("malformed JSON inside the JSON string: {e}")),
        },
        other => other,
    };
    let name = match name_field(&body) {
        Ok(name) => name,
        Err(response) => return response,
    };
    match db.insert(&name) {
        Ok(_) => json_response(200, &json!({ "OK": true })),
        Err(e) => db_error(&e),
    }
}

/// Everything under `/api`; `path` is what follows `/api`.
pub fn route(request: &Request, method: &str, path: &str, db: &Db, max_body: usize) -> Response {
    match path {
        "/users" => match method {
            "GET" => list_users(request, db),
            "POST" => create_user(request, db, max_body),
            _ => method_not_allowed(method, "GET, HEAD, POST"),
        },
        "/sum" => match method {
            "POST" => sum(request, max_body),
            _ => method_not_allowed(method, "POST"),
        },
        "/openapi.json" => match method {
            "GET" => Response::from_data("application/json", OPENAPI),
            _ => method_not_allowed(method, "GET, HEAD"),
        },
        _ => match path.strip_prefix("/users/") {
            Some(id) => one_user(request, method, id, db, max_body),
            None => error(404, format!("no API route {path:?}; see /api/openapi.json")),
        },
    }
}

/// A query parameter from 1 to `max`, or `default` if absent.
fn query_number(request: &Request, key: &str, default: u64, max: u64) -> Result<u64, Response> {
    let query = request.raw_query_string();
    let Some(value) = rouille::url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
    else {
        return Ok(default);
    };
    match value.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(error(
            422,
            format!("query parameter {key} must be an int from 1 to {max}, got {value:?}"),
        )),
    }
}

/// `GET /api/users?page=&per_page=`.
fn list_users(request: &Request, db: &Db) -> Response {
    let page = match query_number(request, "page", 1, MAX_PAGE) {
        Ok(n) => n,
        Err(response) => return response,
    };
    let per_page = match query_number(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE) {
        Ok(n) => n,
        Err(response) => return response,
    };
    let offset = (page - 1).saturating_mul(per_page);
    match db.page(offset, per_page) {
        Ok(found) => json_response(
            200,
            &json!({
                "users": found.users.iter().map(user_json).collect::<Vec<_>>(),
                "page": page,
                "per_page": per_page,
                "total": found.total,
            }),
        ),
        Err(e) => db_error(&e),
    }
}

/// `POST /api/users`: 201, `Location` and the user.
fn create_user(request: &Request, db: &Db, max_body: usize) -> Response {
    let name = match json_body(request, max_body).and_then(|body| name_field(&body)) {
        Ok(name) => name,
        Err(response) => return response,
    };
    match db.insert(&name) {
        Ok(user) => json_response(201, &user_json(&user))
            .with_unique_header("Location", format!("/api/users/{}", user.id)),
        Err(e) => db_error(&e),
    }
}

/// `GET|PUT|DELETE /api/users/{id}`.
fn one_user(request: &Request, method: &str, id: &str, db: &Db, max_body: usize) -> Response {
    // Canonical decimal only: `+1`, `01` and ` 1` name no user, so each
    // user has one URL.
    let canonical = id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0');
    let Some(id) = id.parse::<i64>().ok().filter(|id| *id > 0 && canonical) else {
        return error(
            404,
            format!("no user with id {id:?}: ids are positive ints"),
        );
    };
    match method {
        "GET" => match db.get(id) {
            Ok(user) => json_response(200, &user_json(&user)),
            Err(e) => db_error(&e),
        },
        "PUT" => {
            let name = match json_body(request, max_body).and_then(|body| name_field(&body)) {
                Ok(name) => name,
                Err(response) => return response,
            };
            match db.rename(id, &name) {
                Ok(user) => json_response(200, &user_json(&user)),
                Err(e) => db_error(&e),
            }
        }
        "DELETE" => match db.delete(id) {
            Ok(()) => Response::empty_204(),
            Err(e) => db_error(&e),
        },
        _ => method_not_allowed(method, "GET, HEAD, PUT, DELETE"),
    }
}

/// `POST /api/sum`: `[ints...]` → `{"sum": n}`, summed by the core adder.
///
/// What is an int is Python `json`'s rule, read from the number's text: a
/// JSON number without a fraction or an exponent, `-?(0|[1-9][0-9]*)`, is
/// an int (so `-0` is 0); with one (`1.0`, `1e2`, `-0.0`) it is a float,
/// refused (422). An int outside the adder's 64 bits (Python has no limit)
/// is refused too (422).
fn sum(request: &Request, max_body: usize) -> Response {
    let bytes = match json_bytes(request, max_body) {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let body = match parse_json(&bytes) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Value::Array(items) = body else {
        return error(
            422,
            format!("the body must be a JSON list of ints, got {}", kind(&body)),
        );
    };
    // The texts of the list's numbers, in order: a number's kind is in
    // its text (serde_json reads `-0` as the float -0.0).
    let mut texts = top_level_numbers(&bytes).into_iter();
    let mut ints = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let why = match item {
            Value::Number(_) => {
                let text = texts.next().unwrap_or_default();
                if text.contains(['.', 'e', 'E']) {
                    format!(
                        "{text}, not an int: a number with a fraction or an exponent is a float"
                    )
                } else if let Ok(n) = text.parse::<i64>() {
                    ints.push(n);
                    continue;
                } else {
                    format!("{text}, not an int from -2^63 to 2^63-1")
                }
            }
            other => format!("{}, not an int", kind(other)),
        };
        return error(422, format!("element {index} of the list is {why}"));
    }
    match core_sum(&ints) {
        Ok(total) => json_response(200, &json!({ "sum": total })),
        Err(code) => error(422, code.to_string()),
    }
}

/// The texts of the numbers directly inside the top-level array of a
/// valid JSON document, in order.
fn top_level_numbers(json: &[u8]) -> Vec<&str> {
    let mut numbers = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut at = 0;
    while let Some(&b) = json.get(at) {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            at += 1;
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => {
                let len = json
                    .get(at..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|b| b"+-.eE0123456789".contains(b))
                    .count();
                if depth == 1 {
                    let text = json.get(at..at + len).unwrap_or_default();
                    numbers.push(std::str::from_utf8(text).unwrap_or_default());
                }
                at += len;
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    numbers
}

/// Sums with the core adder's rule ([`Sum`]: a sum outside `i64` is
/// [`ErrorCode::Overflow`]), as the adder server does for native requests.
fn core_sum(ints: &[i64]) -> Result<i64, ErrorCode> {
    let mut sum = Sum::new();
    for &n in ints {
        sum.add(n);
    }
    sum.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=UTF-8"));
        assert!(is_json_content_type("application/json;charset=\"utf-8\""));
        assert!(!is_json_content_type("application/json; charset=latin1"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type("application/jsonx"));
    }

    #[test]
    fn names() {
        assert!(check_name("CBF").is_ok());
        assert!(check_name(&"é".repeat(64)).is_ok());
        assert!(check_name(&"é".repeat(65)).is_err());
        assert!(check_name(" \t").is_err());
        assert!(check_name("a\u{7}b").is_err());
        assert!(check_name("Ada Lovelace").is_ok());
        assert!(check_name("Zoë 🌍 日本").is_ok());
        assert!(check_name("\u{202E}nimda").is_err());
        assert!(check_name("a\u{200B}").is_err());
        assert!(check_name("\u{3164}").is_err());
    }

    #[test]
    fn numbers_of_the_top_level_list() {
        assert_eq!(
            top_level_numbers(br#"[-0, 1.5e3, "-7", [8], {"a": 9}, 10]"#),
            ["-0", "1.5e3", "10"]
        );
        assert_eq!(top_level_numbers(br#"["a\"", 1]"#), ["1"]);
    }

    #[test]
    fn sums_through_the_core() {
        assert_eq!(core_sum(&[]), Ok(0));
        assert_eq!(core_sum(&[1, 2, 3]), Ok(6));
        assert_eq!(core_sum(&[i64::MIN, -1]), Err(ErrorCode::Overflow));
        assert_eq!(core_sum(&[i64::MAX, 1, -1]), Ok(i64::MAX));
        assert_eq!(core_sum(&[i64::MAX, i64::MIN]), Ok(-1));
    }
}
