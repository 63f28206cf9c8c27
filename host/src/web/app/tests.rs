//! Every route and every error, through [`App::handle`], against a real
//! SQLite file and a real static folder in a temporary directory.

use std::io::Read;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;
use crate::web::db::Location;
use crate::web::db::tests::TempDir;

struct Site {
    app: App,
    dir: TempDir,
}

fn site() -> Site {
    let dir = TempDir::new("web");
    let public = dir.0.join("public");
    std::fs::create_dir_all(public.join("img")).unwrap();
    std::fs::write(public.join("style.css"), "body{}").unwrap();
    std::fs::write(public.join("img/a b.svg"), "<svg/>").unwrap();
    std::fs::write(dir.0.join("secret.txt"), "TOP-SECRET-CONTENT").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.0.join("secret.txt"), public.join("link.txt")).unwrap();
    let mut settings = settings_in(&dir, Some(public));
    settings.limits.max_body = 1024;
    Site {
        app: App::open(&settings).unwrap(),
        dir,
    }
}

/// Settings with the database in `dir`.
fn settings_in(dir: &TempDir, static_dir: Option<PathBuf>) -> Settings {
    Settings {
        tree: static_dir
            .map(ConfigTree::static_folder)
            .unwrap_or_default(),
        db: Location::Sqlite(dir.0.join("site.db")),
        ..Settings::default()
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        assert_eq!(self.header("Content-Type"), Some("application/json"));
        serde_json::from_str(&self.body).unwrap()
    }

    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap().to_owned()
    }
}

impl Site {
    fn call(&self, method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let request = Request::fake_http(
            method,
            url,
            headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body.to_vec(),
        );
        let response = self.app.handle(&request);
        let (mut reader, _) = response.data.into_reader_and_size();
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).unwrap();
        Answer {
            status: response.status_code,
            headers: response
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    fn get(&self, url: &str) -> Answer {
        self.call("GET", url, &[], b"")
    }

    fn json(&self, method: &str, url: &str, body: &str) -> Answer {
        self.call(
            method,
            url,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }
}

#[test]
fn app_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<App>();
}

#[test]
fn hello_on_every_alias() {
    let site = site();
    for path in ["/", "/index", "/home", "/accueil"] {
        let answer = site.get(path);
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(
            answer.header("Content-Type"),
            Some("text/html; charset=utf-8")
        );
        assert!(answer.body.contains("Hello <b>World</b>!"), "{path}");
        assert!(answer.body.contains("href=\"/api/openapi.json\""));
    }
    let answer = site.get("/?name=Zo%C3%AB+Ada");
    assert!(answer.body.contains("Hello <b>Zoë Ada</b>!"));
    let head = site.call("HEAD", "/home?name=x", &[], b"");
    assert!(head.body.contains("Hello <b>x</b>!"));
}

#[test]
fn hello_escapes_the_name() {
    let site = site();
    let answer = site.get("/?name=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    assert!(!answer.body.contains("<script>"));
    assert!(
        answer
            .body
            .contains("Hello <b>&lt;script&gt;alert(1)&lt;/script&gt;</b>!")
    );
    assert!(
        answer
            .header("Content-Security-Policy")
            .unwrap()
            .contains("default-src 'self'")
    );
    assert_eq!(answer.header("X-Content-Type-Options"), Some("nosniff"));
}

#[test]
fn pages_refuse_other_methods() {
    let site = site();
    let answer = site.call("POST", "/", &[], b"");
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("Allow"), Some("GET, HEAD"));
    let answer = site.get("/login");
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("Allow"), Some("POST"));
}

#[test]
fn unknown_paths_get_the_404_page() {
    let site = site();
    let answer = site.get("/no/such/%3Cb%3Epage?x=1");
    assert_eq!(answer.status, 404);
    assert!(answer.body.contains("Page not found! Fin du monde!"));
    assert!(answer.body.contains("/no/such/&lt;b&gt;page"));
    assert!(!answer.body.contains("<b>page"));
    assert_eq!(site.call("DELETE", "/nowhere", &[], b"").status, 404);
    assert_eq!(site.get("/index/").status, 404);
}

#[test]
fn login_form_and_answer() {
    let site = site();
    let form = site.get("/loginform");
    assert_eq!(form.status, 200);
    assert!(
        form.body
            .contains(r#"<form action="/login" method="post">"#)
    );
    assert!(form.body.contains(r#"name="name""#));

    let urlencoded = [("Content-Type", "application/x-www-form-urlencoded")];
    let answer = site.call("POST", "/login", &urlencoded, b"name=Ren%C3%A9+%3Ci%3E");
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("Bonjour René &lt;i&gt; !"));

    let missing = site.call("POST", "/login", &urlencoded, b"other=1");
    assert_eq!(missing.status, 400);
    assert!(
        missing
            .body
            .contains("The field &quot;name&quot; is missing")
    );
    let empty = site.call("POST", "/login", &urlencoded, b"name=+");
    assert_eq!(empty.status, 400);
    assert!(empty.body.contains("is empty"));
    let no_body = site.call("POST", "/login", &[], b"");
    assert_eq!(no_body.status, 400);
    let query = site.call("POST", "/login?name=Q", &[], b"");
    assert!(query.body.contains("Bonjour Q !"));

    let wrong = site.call(
        "POST",
        "/login",
        &[("Content-Type", "text/plain")],
        b"name=x",
    );
    assert_eq!(wrong.status, 415);
    let big = vec![b'a'; 2000];
    let too_big = site.call("POST", "/login", &urlencoded, &big);
    assert_eq!(too_big.status, 413);
}

#[test]
fn course_json_routes() {
    let site = site();
    let answer = site.get("/listusers");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), json!({"users": ["CBF", "LUR", "VRL"]}));

    // The course's client: json.dumps(...) sent through json_in.
    let double = serde_json::to_string(&json!({"name": "Ada"}).to_string()).unwrap();
    let answer = site.json("POST", "/adduser", &double);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json(), json!({"OK": true}));
    let answer = site.json("POST", "/adduser", r#"{"name": "Grace"}"#);
    assert_eq!(answer.json(), json!({"OK": true}));
    assert_eq!(
        site.get("/listusers").json(),
        json!({"users": ["CBF", "LUR", "VRL", "Ada", "Grace"]})
    );

    assert_eq!(
        site.json("POST", "/adduser", r#"{"name": "Ada"}"#).status,
        409
    );
    assert_eq!(site.json("POST", "/adduser", r#""{oops""#).status, 400);
    assert_eq!(site.json("POST", "/adduser", "{").status, 400);
    assert_eq!(site.json("POST", "/adduser", "{}").status, 422);
    let wrong_type = site.call("POST", "/adduser", &[("Content-Type", "text/plain")], b"{}");
    assert_eq!(wrong_type.status, 415);
    let get = site.get("/adduser");
    assert_eq!(get.status, 405);
    assert_eq!(get.header("Allow"), Some("POST"));
    assert!(get.error().contains("GET"));
    assert_eq!(
        site.json("POST", "/listusers", "{}").header("Allow"),
        Some("GET, HEAD")
    );
}

#[test]
fn users_api() {
    let site = site();
    let list = site.get("/api/users").json();
    assert_eq!(
        list,
        json!({
            "users": [{"id": 1, "name": "CBF"}, {"id": 2, "name": "LUR"}, {"id": 3, "name": "VRL"}],
            "page": 1, "per_page": 20, "total": 3
        })
    );
    let page = site.get("/api/users?page=2&per_page=2").json();
    assert_eq!(page["users"], json!([{"id": 3, "name": "VRL"}]));
    assert_eq!(page["total"], 3);
    assert_eq!(site.get("/api/users?page=9").json()["users"], json!([]));
    for bad in ["page=0", "page=x", "per_page=101", "per_page=0", "page=-1"] {
        let answer = site.get(&format!("/api/users?{bad}"));
        assert_eq!(answer.status, 422, "{bad}");
        assert!(answer.error().starts_with("query parameter"), "{bad}");
    }

    let created = site.json("POST", "/api/users", r#"{"name": "Ada Lovelace"}"#);
    assert_eq!(created.status, 201);
    assert_eq!(created.header("Location"), Some("/api/users/4"));
    assert_eq!(created.json(), json!({"id": 4, "name": "Ada Lovelace"}));
    assert_eq!(
        site.get("/api/users/4").json(),
        json!({"id": 4, "name": "Ada Lovelace"})
    );

    let renamed = site.json("PUT", "/api/users/4", r#"{"name": "Ada"}"#);
    assert_eq!(renamed.status, 200);
    assert_eq!(renamed.json(), json!({"id": 4, "name": "Ada"}));
    let duplicate = site.json("PUT", "/api/users/4", r#"{"name": "CBF"}"#);
    assert_eq!(duplicate.status, 409);
    assert_eq!(duplicate.error(), "a user named \"CBF\" already exists");
    assert_eq!(
        site.json("PUT", "/api/users/99", r#"{"name": "X"}"#).status,
        404
    );

    let deleted = site.call("DELETE", "/api/users/4", &[], b"");
    assert_eq!(deleted.status, 204);
    assert_eq!(deleted.body, "");
    assert_eq!(site.call("DELETE", "/api/users/4", &[], b"").status, 404);
    assert_eq!(site.get("/api/users/4").error(), "no user with id 4");
    assert_eq!(site.get("/api/users/abc").status, 404);
    assert_eq!(site.get("/api/users/-1").status, 404);
    for id in ["+1", "01", "1.0", "1%20", "%201", "0x1", "1e0", "0"] {
        assert_eq!(site.get(&format!("/api/users/{id}")).status, 404, "{id}");
    }

    let patch = site.json("PATCH", "/api/users/1", "{}");
    assert_eq!(patch.status, 405);
    assert_eq!(patch.header("Allow"), Some("GET, HEAD, PUT, DELETE"));
    let put_list = site.json("PUT", "/api/users", "{}");
    assert_eq!(put_list.header("Allow"), Some("GET, HEAD, POST"));
    assert_eq!(site.get("/api/nothing").status, 404);
    assert_eq!(site.get("/api").status, 404);
    assert!(site.get("/api/nothing").error().contains("openapi"));
}

/// Names that spoof another or hide (UTS #39): refused with 422 and a
/// message naming the character and where it is; their plain look-alikes
/// are accepted.
#[test]
fn spoofing_names_are_refused_with_422() {
    let site = site();
    let refused: &[(&str, &str)] = &[
        (
            "\u{202E}nimda",
            "bidirectional controls (overrides, isolates, marks): U+202E at character 1",
        ),
        (
            "ad\u{202D}min",
            "bidirectional controls (overrides, isolates, marks): U+202D at character 3",
        ),
        ("admin\u{2066}", "bidirectional controls"),
        ("\u{2067}x\u{2069}", "bidirectional controls"),
        ("a\u{200F}b", "bidirectional controls"),
        ("\u{061C}Ada", "bidirectional controls"),
        (
            "ad\u{200B}min",
            "invisible or format characters (zero-width, joiners, fillers, selectors, tags): U+200B at character 3",
        ),
        ("admin\u{200C}", "invisible or format characters"),
        ("ad\u{200D}min", "invisible or format characters"),
        ("\u{2060}admin", "invisible or format characters"),
        ("\u{FEFF}admin", "invisible or format characters"),
        ("ad\u{00AD}min", "invisible or format characters"),
        ("admin\u{034F}", "invisible or format characters"),
        ("admin\u{FE0F}", "invisible or format characters"),
        ("admin\u{E0041}", "invisible or format characters"),
        ("admin\u{180E}", "invisible or format characters"),
        ("\u{3164}", "invisible or format characters"),
        ("\u{115F}\u{1160}", "invisible or format characters"),
        ("\u{FFA0}", "invisible or format characters"),
        ("\u{2800}", "invisible or format characters"),
        ("\u{200B}\u{200C}\u{200D}", "tags): U+200B at character 1"),
        ("a\u{0000}b", "control characters"),
        ("a\u{001B}[31mred", "control characters"),
        ("two\nlines", "control characters"),
        ("tab\tbed", "control characters"),
        ("a\u{007F}", "control characters"),
        ("a\u{0085}b", "control characters"),
        (
            "admin\u{00A0}",
            "whitespace other than the space (U+0020): U+00A0 at character 6",
        ),
        ("ad\u{3000}min", "whitespace other than the space"),
        ("ad\u{2003}min", "whitespace other than the space"),
        ("a\u{2028}b", "whitespace other than the space"),
        ("a\u{2029}b", "whitespace other than the space"),
        ("a\u{E000}", "private-use characters or noncharacters"),
        ("a\u{FFFF}", "private-use characters or noncharacters"),
    ];
    for (name, message) in refused {
        let body = json!({ "name": name }).to_string();
        for (method, path) in [
            ("POST", "/api/users"),
            ("PUT", "/api/users/1"),
            ("POST", "/adduser"),
        ] {
            let answer = site.json(method, path, &body);
            assert_eq!(answer.status, 422, "{method} {path} {name:?}");
            assert!(
                answer.error().contains(message),
                "{name:?}: {}",
                answer.error()
            );
        }
    }
    for name in [
        "Ada Lovelace",
        "Zoë",
        "José María",
        "日本語",
        "Ελένη",
        "Дмитрий",
        "O'Brien",
        "🌍",
    ] {
        let body = json!({ "name": name }).to_string();
        assert_eq!(site.json("POST", "/api/users", &body).status, 201, "{name}");
    }
}

#[test]
fn users_api_errors() {
    let site = site();
    let cases: &[(&str, u16, &str)] = &[
        ("{", 400, "malformed JSON"),
        ("", 400, "malformed JSON"),
        ("[1]", 422, "must be a JSON object"),
        ("{}", 422, "field \"name\" is missing"),
        (r#"{"name": 5}"#, 422, "must be a string, got a number"),
        (r#"{"name": null}"#, 422, "must be a string, got null"),
        (r#"{"name": ""}"#, 422, "must not be empty"),
        (r#"{"name": "  \t "}"#, 422, "must not be empty"),
        (r#"{"name": "a\u0000b"}"#, 422, "control characters"),
        (r#"{"name": "CBF"}"#, 409, "already exists"),
    ];
    for (body, status, message) in cases {
        let answer = site.json("POST", "/api/users", body);
        assert_eq!(answer.status, *status, "{body}");
        assert!(
            answer.error().contains(message),
            "{body}: {}",
            answer.error()
        );
    }
    let long = format!(r#"{{"name": "{}"}}"#, "é".repeat(65));
    let answer = site.json("POST", "/api/users", &long);
    assert_eq!(answer.status, 422);
    assert!(
        answer
            .error()
            .contains("65 characters long, over the 64-character limit")
    );
    let ok = format!(r#"{{"name": "{}"}}"#, "é".repeat(64));
    assert_eq!(site.json("POST", "/api/users", &ok).status, 201);

    for ct in [
        "text/plain",
        "application/json; charset=latin1",
        "application/x-www-form-urlencoded",
    ] {
        let answer = site.call(
            "POST",
            "/api/users",
            &[("Content-Type", ct)],
            b"{\"name\":\"X\"}",
        );
        assert_eq!(answer.status, 415, "{ct}");
        assert!(answer.error().contains("application/json"));
    }
    assert_eq!(
        site.call("POST", "/api/users", &[], b"{\"name\":\"X\"}")
            .status,
        415
    );
    let charset = site.call(
        "POST",
        "/api/users",
        &[("Content-Type", "application/json; charset=utf-8")],
        b"{\"name\":\"X\"}",
    );
    assert_eq!(charset.status, 201);

    let big = format!(r#"{{"name": "{}"}}"#, "a".repeat(2000));
    let answer = site.json("POST", "/api/users", &big);
    assert_eq!(answer.status, 413);
    assert_eq!(
        answer.error(),
        "the request body is over the 1024-byte limit"
    );
}

#[test]
fn sums() {
    let site = site();
    let sum = |body: &str| site.json("POST", "/api/sum", body);
    assert_eq!(sum("[1, 2, 3]").json(), json!({"sum": 6}));
    assert_eq!(sum("[]").json(), json!({"sum": 0}));
    assert_eq!(sum("[-5, 2]").json(), json!({"sum": -3}));
    assert_eq!(
        sum("[9223372036854775807, 1, -1]").json(),
        json!({"sum": i64::MAX})
    );
    // -0 is a JSON int (Python's json reads it as 0), wherever it is.
    assert_eq!(sum("[-0]").json(), json!({"sum": 0}));
    assert_eq!(sum("[5, -0, {\"x\": 1.5}]").status, 422);
    assert_eq!(sum("[\"-1.5\", -0]").status, 422);
    assert_eq!(sum("[ -0 , 7,-0]").json(), json!({"sum": 7}));
    assert_eq!(
        sum("[-9223372036854775808, -0]").json(),
        json!({"sum": i64::MIN})
    );
    let overflow = sum("[9223372036854775807, 1]");
    assert_eq!(overflow.status, 422);
    assert_eq!(
        overflow.error(),
        "the sum does not fit in a 64-bit signed integer"
    );
    for (body, status, message) in [
        ("[1.5]", 422, "element 0 of the list is 1.5, not an int"),
        (
            "[1, \"2\"]",
            422,
            "element 1 of the list is a string, not an int",
        ),
        (
            "[9223372036854775808]",
            422,
            "not an int from -2^63 to 2^63-1",
        ),
        ("[1e400]", 400, "malformed JSON"),
        // Python json's rule: a fraction or an exponent makes a float.
        ("[1.0]", 422, "element 0 of the list is 1.0, not an int"),
        ("[2, 1e2]", 422, "element 1 of the list is 1e2, not an int"),
        ("[-0.0]", 422, "element 0 of the list is -0.0, not an int"),
        ("[01]", 400, "malformed JSON"),
        (
            "{\"a\": 1}",
            422,
            "must be a JSON list of ints, got an object",
        ),
        ("[1,", 400, "malformed JSON"),
    ] {
        let answer = sum(body);
        assert_eq!(answer.status, status, "{body}");
        assert!(
            answer.error().contains(message),
            "{body}: {}",
            answer.error()
        );
    }
    let get = site.get("/api/sum");
    assert_eq!(get.status, 405);
    assert_eq!(get.header("Allow"), Some("POST"));
}

#[test]
fn healthz_is_ok_while_the_database_answers() {
    let site = site();
    let answer = site.get("/healthz");
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"status": "ok"}))
    );
    assert_eq!(answer.header("Cache-Control"), Some("no-store"));
}

#[test]
fn healthz_takes_only_get_and_head() {
    let site = site();
    let post = site.call("POST", "/healthz", &[], b"");
    assert_eq!(
        (post.status, post.header("Allow")),
        (405, Some("GET, HEAD"))
    );
}

#[test]
fn openapi_document() {
    let site = site();
    let doc = site.get("/api/openapi.json").json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));
    let paths = doc["paths"].as_object().unwrap();
    let mut names: Vec<&str> = paths.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "/adduser",
            "/api/openapi.json",
            "/api/sum",
            "/api/users",
            "/api/users/{id}",
            "/healthz",
            "/listusers"
        ]
    );
    assert!(paths["/api/users/{id}"]["delete"]["responses"]["204"].is_object());
    assert!(paths["/api/users"]["post"]["responses"]["201"]["headers"]["Location"].is_object());
}

#[test]
fn front_end_page() {
    let site = site();
    let page = site.get("/app");
    assert_eq!(page.status, 200);
    for id in [
        "id=\"user-list\"",
        "id=\"new-name\"",
        "id=\"add-user\"",
        "id=\"sum-input\"",
        "id=\"sum-button\"",
        "id=\"sum-result\"",
        "id=\"error\"",
        "src=\"/static/app.js\"",
    ] {
        assert!(page.body.contains(id), "{id}");
    }
    // The shipped script never writes user data as HTML.
    let script = include_str!("../../../../web/public/app.js");
    assert!(!script.contains("innerHTML"));
    assert!(script.contains("button.delete") || script.contains("\"delete\""));
}

#[test]
fn static_files_with_validators() {
    let site = site();
    let css = site.get("/static/style.css");
    assert_eq!(css.status, 200);
    assert_eq!(css.body, "body{}");
    assert_eq!(css.header("Content-Type"), Some("text/css"));
    let etag = css.header("ETag").unwrap().to_owned();
    let modified = css.header("Last-Modified").unwrap().to_owned();
    assert!(modified.ends_with(" GMT"));

    let again = site.call("GET", "/static/style.css", &[("If-None-Match", &etag)], b"");
    assert_eq!(again.status, 304);
    assert_eq!(again.body, "");
    assert_eq!(again.header("ETag"), Some(etag.as_str()));
    let since = site.call(
        "GET",
        "/static/style.css",
        &[("If-Modified-Since", &modified)],
        b"",
    );
    assert_eq!(since.status, 304);
    let old = site.call(
        "GET",
        "/static/style.css",
        &[("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")],
        b"",
    );
    assert_eq!(old.status, 200);
    let other_tag = site.call(
        "GET",
        "/static/style.css",
        &[
            ("If-None-Match", "\"other\""),
            ("If-Modified-Since", &modified),
        ],
        b"",
    );
    assert_eq!(
        other_tag.status, 200,
        "If-None-Match wins over If-Modified-Since"
    );

    let svg = site.get("/static/img/a%20b.svg");
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("Content-Type"), Some("image/svg+xml"));

    // The static tool only answers GET and HEAD; the routes have no
    // such page (CherryPy: the same 404).
    let post = site.call("POST", "/static/style.css", &[], b"");
    assert_eq!(post.status, 404);
}

#[test]
fn static_files_stay_in_their_folder() {
    let site = site();
    let secret = site.dir.0.join("secret.txt");
    for url in [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E%2Fsecret.txt",
        "/static/img/..%2f..%2fsecret.txt",
        "/static/img%2f..%2f..%2fsecret.txt",
        "/static/..%5csecret.txt",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/style.css%00.txt",
        "/static/link.txt",
        "/static/img",
        "/static/img/",
        "/static/",
        "/static/missing.css",
    ] {
        let answer = site.get(url);
        assert_eq!(answer.status, 404, "{url}");
        assert!(!answer.body.contains("TOP-SECRET"), "{url}");
    }
    assert!(secret.exists());
}

#[test]
fn static_off_is_404() {
    let dir = TempDir::new("web");
    let settings = settings_in(&dir, None);
    let app = App::open(&settings).unwrap();
    let response = app.handle(&Request::fake_http(
        "GET",
        "/static/style.css",
        vec![],
        vec![],
    ));
    assert_eq!(response.status_code, 404);
}

#[test]
fn open_reports_a_missing_static_folder() {
    let dir = TempDir::new("web");
    let settings = settings_in(&dir, Some(PathBuf::from("/nonexistent/public")));
    let e = App::open(&settings).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("static folder /nonexistent/public:"),
        "{e}"
    );
}

#[test]
fn the_default_site_serves_its_own_files() {
    let dir = TempDir::new("web");
    let settings = Settings {
        db: Location::Sqlite(dir.0.join("site.db")),
        ..Settings::default()
    };
    let app = App::open(&settings).unwrap();
    for (path, content_type) in [
        ("/static/style.css", "text/css"),
        ("/static/app.js", "text/javascript"),
        ("/static/favicon.svg", "image/svg+xml"),
    ] {
        let response = app.handle(&Request::fake_http("GET", path, vec![], vec![]));
        assert_eq!(response.status_code, 200, "{path}");
        let found = response
            .headers
            .iter()
            .find(|(k, _)| k == "Content-Type")
            .map(|(_, v)| v.to_string());
        assert_eq!(found.as_deref(), Some(content_type));
    }
}

/// A site whose config is `conf` (`{public}` stands for its static
/// folder, which holds `index.html`, `style.css`, `docs/index.html` and
/// `notes.txt`).
fn site_with(conf: &str) -> Site {
    let dir = TempDir::new("web");
    let public = dir.0.join("public");
    std::fs::create_dir_all(public.join("docs")).unwrap();
    std::fs::write(public.join("index.html"), "<p>home</p>").unwrap();
    std::fs::write(public.join("style.css"), "body{}").unwrap();
    std::fs::write(public.join("docs/index.html"), "<p>docs</p>").unwrap();
    std::fs::write(public.join("notes.txt"), "note ".repeat(200)).unwrap();
    let path = dir.0.join("server.conf");
    std::fs::write(&path, conf.replace("{public}", public.to_str().unwrap())).unwrap();
    let mut settings = Settings::load(Some(&path)).unwrap();
    settings.db = Location::Sqlite(dir.0.join("site.db"));
    Site {
        app: App::open(&settings).unwrap(),
        dir,
    }
}

#[test]
fn a_root_section_shares_the_root_with_its_children() {
    let site = site_with(
        "[/]\ntools.staticdir.root: '{public}'\n[/static]\ntools.staticdir.on: True\ntools.staticdir.dir: '.'\n",
    );
    assert_eq!(site.get("/static/style.css").body, "body{}");
    // The site's own routes are still there.
    assert!(site.get("/").body.contains("Hello"));
}

#[test]
fn index_files_answer_folders_and_the_bare_section_is_redirected() {
    let site = site_with(
        "[/site]\ntools.staticdir.on: True\ntools.staticdir.dir: '{public}'\ntools.staticdir.index: 'index.html'\n",
    );
    assert_eq!(site.get("/site/").body, "<p>home</p>");
    assert_eq!(site.get("/site/docs/").body, "<p>docs</p>");
    assert_eq!(site.get("/site/docs").body, "<p>docs</p>");
    let bare = site.get("/site");
    assert_eq!(bare.status, 301);
    assert_eq!(bare.header("Location"), Some("/site/"));
}

#[test]
fn a_static_section_over_a_route_serves_its_files_first() {
    let site = site_with(
        "[/]\ntools.staticdir.on: True\ntools.staticdir.dir: '{public}'\ntools.staticdir.index: 'index.html'\n",
    );
    assert_eq!(site.get("/").body, "<p>home</p>");
    assert_eq!(site.get("/style.css").body, "body{}");
    // No such file: the route answers.
    assert_eq!(site.get("/listusers").status, 200);
}

#[test]
fn staticfile_serves_one_file_at_one_path() {
    let site = site_with(
        "[/favicon.ico]\ntools.staticfile.on: True\ntools.staticfile.filename: 'style.css'\ntools.staticfile.root: '{public}'\n",
    );
    let icon = site.get("/favicon.ico");
    assert_eq!(icon.body, "body{}");
    assert_eq!(icon.header("Content-Type"), Some("text/css"));
}

#[test]
fn gzip_compresses_text_for_clients_that_accept_it() {
    let site = site_with(
        "[/]\ntools.gzip.on: True\n[/static]\ntools.staticdir.on: True\ntools.staticdir.dir: '{public}'\n",
    );
    let zipped = site.call(
        "GET",
        "/static/notes.txt",
        &[("Accept-Encoding", "gzip")],
        b"",
    );
    assert_eq!(zipped.header("Content-Encoding"), Some("gzip"));
    assert_eq!(zipped.header("Vary"), Some("Accept-Encoding"));
    let plain = site.call("GET", "/static/notes.txt", &[], b"");
    assert_eq!(plain.header("Content-Encoding"), None);
    assert_eq!(plain.body, "note ".repeat(200));
    let css = site.call(
        "GET",
        "/static/style.css",
        &[("Accept-Encoding", "gzip")],
        b"",
    );
    assert_eq!(css.header("Content-Encoding"), None);
    let refused = site.call("GET", "/", &[("Accept-Encoding", "gzip;q=0")], b"");
    assert_eq!(refused.header("Content-Encoding"), None);
}
