//! RFC 9112 (HTTP/1.1) and RFC 9110 (HTTP semantics), the rules a server
//! keeps when it parses a request and frames its response, as a table:
//! each row is the raw bytes a client sends to a real `reseau web`, the
//! one status the site answers, whether the connection then closes or
//! serves another request, and the section the row checks.
//!
//! "closes" means the server closes the connection right after that
//! response, with no byte more (a request pipelined behind is never
//! answered); "stays" means a second request on the same connection is
//! answered 200. Every row must be answered within [`AT_ONCE`], far below
//! the server's request timeout (30 s here): a request the server cannot
//! parse is refused when it is seen, not timed out.
//!
//! Needs `cargo build --release -p reseau-host` first (or `RESEAU_BIN`).

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::http::{Conn, Response};
use common::*;

/// The longest a row's answer may take.
const AT_ONCE: Duration = Duration::from_secs(3);

/// What the connection does after the row's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// The server closes it, with no byte more.
    Closes,
    /// It serves the next request.
    Stays,
}
use After::{Closes, Stays};

/// One row of the table.
struct Row {
    /// The RFC section (and what it says) the row checks.
    rule: &'static str,
    request: Vec<u8>,
    status: u16,
    after: After,
}

fn row(rule: &'static str, request: impl AsRef<[u8]>, status: u16, after: After) -> Row {
    Row {
        rule,
        request: request.as_ref().to_vec(),
        status,
        after,
    }
}

/// A POST of JSON `body` to `/api/sum` with `framing` headers (and the
/// body as given, framed by the caller).
fn sum_post(framing: &str, body: &str) -> String {
    format!(
        "POST /api/sum HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{framing}\r\n{body}"
    )
}

/// The table.
fn rows() -> Vec<Row> {
    let long_target = format!(
        "GET /?name={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(20_000)
    );
    let many_headers = {
        let mut head = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
        for i in 0..101 {
            head.push_str(&format!("X-{i}: 1\r\n"));
        }
        head + "\r\n"
    };
    let many_trailers = {
        let mut body = String::from("2\r\n[]\r\n0\r\n");
        for i in 0..3000 {
            body.push_str(&format!("T{i}: 1\r\n"));
        }
        sum_post("Transfer-Encoding: chunked\r\n", &(body + "\r\n"))
    };
    vec![
        // 2.2: message parsing.
        row(
            "9112 2.2: at least one empty line before the request line is ignored",
            "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
            200,
            Stays,
        ),
        row(
            "9112 2.2: a lone LF may end a line (tolerated, as the RFC allows)",
            "GET / HTTP/1.1\nHost: x\n\n",
            200,
            Stays,
        ),
        row(
            "9112 2.2: a bare CR in a field is invalid",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 2.2: a bare CR in the request line is invalid",
            "GET /\r HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 2.2: whitespace between the start line and the first field is rejected",
            "GET / HTTP/1.1\r\n Host: x\r\n\r\n",
            400,
            Closes,
        ),
        // 2.3 and 3: the request line.
        row(
            "9112 3: HTTP/0.9's bare `GET /` has no version: 400 when its line ends",
            "GET /\r\n",
            400,
            Closes,
        ),
        row(
            "9112 3: HTTP/0.9's bare `GET /` with a lone LF: 400 at once",
            "GET /\n",
            400,
            Closes,
        ),
        row(
            "9112 3: one SP between the parts (two are invalid, not autocorrected)",
            "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 3: a tab is not the SP between the parts",
            "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 3: whitespace before the method is invalid",
            " GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 3: a method is a token",
            "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9110 9.1: methods are case-sensitive (`get` is not GET: 405 from the route)",
            "get / HTTP/1.1\r\nHost: x\r\n\r\n",
            405,
            Stays,
        ),
        row(
            "9112 3.2: a target holds no byte outside visible ASCII",
            b"GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 3: a request target longer than we parse is 414",
            long_target,
            414,
            Closes,
        ),
        row(
            "9112 2.3: HTTP-name is case-sensitive (`http/1.1` is invalid)",
            "GET / http/1.1\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 2.3: a version is DIGIT.DIGIT",
            "GET / HTTP/1.10\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9110 15.6.6: a major version we do not serve is 505",
            "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
            505,
            Closes,
        ),
        row(
            "9110 2.5: HTTP/1.2 is 505 here (decided: only 1.0 and 1.1 are parsed)",
            "GET / HTTP/1.2\r\nHost: x\r\n\r\n",
            505,
            Closes,
        ),
        // 3.2: request targets.
        row(
            "9112 3.2.2: absolute form is accepted; the target's host wins over Host",
            "GET http://elsewhere.example/?name=Abs HTTP/1.1\r\nHost: x\r\n\r\n",
            200,
            Stays,
        ),
        row(
            "9112 3.2.2: absolute form with https and no path is /",
            "GET HTTPS://x HTTP/1.1\r\nHost: x\r\n\r\n",
            200,
            Stays,
        ),
        row(
            "9110 4.2.4: userinfo in an http(s) URI is an error",
            "GET http://user@x/ HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9110 4.2.1: an http URI with an empty host is invalid",
            "GET http:///a HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 3.2: a target in no form (a relative path) is invalid",
            "GET index HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 3.2.3: the authority form is only for CONNECT",
            "GET x:80 HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9110 9.3.6: CONNECT is not served: this is not a proxy (501)",
            "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n",
            501,
            Closes,
        ),
        row(
            "9112 3.2.3: CONNECT takes host:port, not a path",
            "CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 3.2.4: the asterisk form is for OPTIONS (answered 200 with Allow)",
            "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
            200,
            Stays,
        ),
        row(
            "9112 3.2.4: the asterisk form is only for OPTIONS",
            "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        // 3.2: Host.
        row(
            "9112 3.2: an HTTP/1.1 request without Host is 400",
            "GET / HTTP/1.1\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 3.2: two Host lines are 400",
            "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 3.2: two Host lines are 400 in HTTP/1.0 too",
            "GET / HTTP/1.0\r\nHost: x\r\nHost: x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 3.2: an invalid Host value (a space) is 400",
            "GET / HTTP/1.1\r\nHost: x y\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 3.2: an invalid Host value (userinfo) is 400",
            "GET / HTTP/1.1\r\nHost: u@x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 3.2: an invalid Host value (a path) is 400",
            "GET / HTTP/1.1\r\nHost: x/y\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 3.2: an empty Host is valid (a target without authority)",
            "GET / HTTP/1.1\r\nHost:\r\n\r\n",
            200,
            Stays,
        ),
        row(
            "9112 3.2: Host as an IP literal with a port is valid",
            "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
            200,
            Stays,
        ),
        row(
            "9112 3.2: HTTP/1.0 may leave Host out (and closes: no keep-alive)",
            "GET / HTTP/1.0\r\n\r\n",
            200,
            Closes,
        ),
        // 5: fields.
        row(
            "9112 5.1: whitespace between a field name and its colon is 400",
            "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 5.2: obs-fold in a request is rejected with 400",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9110 5.1: a field name is a token",
            "GET / HTTP/1.1\r\nHost: x\r\nX(A): 1\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9110 5.5: NUL in a field value is rejected",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9112 5: a field line without a colon is invalid",
            "GET / HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n",
            400,
            Closes,
        ),
        row(
            "9110 5.4: more fields than we take (100) is 431",
            many_headers,
            431,
            Closes,
        ),
        // 6: the body's length.
        row(
            "9112 6.3: Content-Length frames the body",
            sum_post("Content-Length: 5\r\n", "[1,2]"),
            200,
            Stays,
        ),
        row(
            "9112 6.3: no Content-Length nor Transfer-Encoding: the body is empty (not JSON: 400)",
            "POST /api/sum HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n",
            400,
            Stays,
        ),
        row(
            "9112 6.1: Content-Length with Transfer-Encoding is refused, and closes",
            sum_post(
                "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                "5\r\n[1,2]\r\n0\r\n\r\n",
            ),
            400,
            Closes,
        ),
        row(
            "9112 6.3: a Content-Length that is not 1*DIGIT (a list) is 400",
            sum_post("Content-Length: 5, 5\r\n", "[1,2]"),
            400,
            Closes,
        ),
        row(
            "9112 6.3: two Content-Length lines are 400 (even equal: decided)",
            sum_post("Content-Length: 5\r\nContent-Length: 5\r\n", "[1,2]"),
            400,
            Closes,
        ),
        row(
            "9112 6.3: a signed Content-Length is 400",
            sum_post("Content-Length: +5\r\n", "[1,2]"),
            400,
            Closes,
        ),
        row(
            "9112 6.3: a negative Content-Length is 400",
            sum_post("Content-Length: -1\r\n", ""),
            400,
            Closes,
        ),
        row(
            "9110 8.6: a Content-Length too large for any number is over the limit: 413",
            sum_post("Content-Length: 99999999999999999999999\r\n", ""),
            413,
            Closes,
        ),
        row(
            "9112 6.3: Transfer-Encoding without chunked last is 400",
            sum_post("Transfer-Encoding: gzip\r\n", "[1,2]"),
            400,
            Closes,
        ),
        row(
            "9112 6.3: chunked not the last coding is 400",
            sum_post(
                "Transfer-Encoding: chunked, gzip\r\n",
                "5\r\n[1,2]\r\n0\r\n\r\n",
            ),
            400,
            Closes,
        ),
        row(
            "9112 7: chunked applied twice is 400",
            sum_post(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                "5\r\n[1,2]\r\n0\r\n\r\n",
            ),
            400,
            Closes,
        ),
        row(
            "9112 6.1: a coding we do not know, before chunked, is 501",
            sum_post(
                "Transfer-Encoding: gzip, chunked\r\n",
                "5\r\n[1,2]\r\n0\r\n\r\n",
            ),
            501,
            Closes,
        ),
        row(
            "9112 6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing",
            "POST /api/sum HTTP/1.0\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n5\r\n[1,2]\r\n0\r\n\r\n",
            400,
            Closes,
        ),
        // 7: chunked.
        row(
            "9112 7.1: a chunked body with extensions and trailers is read",
            sum_post(
                "Transfer-Encoding: chunked\r\n",
                "2;a=b\r\n[1\r\n3 ;c\r\n,2]\r\n0\r\nX-T: 1\r\n\r\n",
            ),
            200,
            Stays,
        ),
        row(
            "9112 7.1: a chunk size is hex digits only (no 0x)",
            sum_post(
                "Transfer-Encoding: chunked\r\n",
                "0x5\r\n[1,2]\r\n0\r\n\r\n",
            ),
            400,
            Closes,
        ),
        row(
            "9112 7.1: a chunk size has no sign",
            sum_post("Transfer-Encoding: chunked\r\n", "+5\r\n[1,2]\r\n0\r\n\r\n"),
            400,
            Closes,
        ),
        row(
            "9112 7.1: a chunk size has no leading whitespace",
            sum_post("Transfer-Encoding: chunked\r\n", " 5\r\n[1,2]\r\n0\r\n\r\n"),
            400,
            Closes,
        ),
        row(
            "9112 7.1: chunk data is followed by CRLF",
            sum_post("Transfer-Encoding: chunked\r\n", "4\r\n[1,2]\r\n0\r\n\r\n"),
            400,
            Closes,
        ),
        row(
            "9112 7.1.1: a chunk-size line over 1 KiB (extensions) is 400",
            sum_post(
                "Transfer-Encoding: chunked\r\n",
                &format!("5;x={}\r\n[1,2]\r\n0\r\n\r\n", "e".repeat(2000)),
            ),
            400,
            Closes,
        ),
        row(
            "9112 7.1.2: a trailer line is a field line",
            sum_post(
                "Transfer-Encoding: chunked\r\n",
                "5\r\n[1,2]\r\n0\r\nbad\r\n\r\n",
            ),
            400,
            Closes,
        ),
        row(
            "9112 7.1.2: the trailer section is limited like a head (16 KiB): 431",
            many_trailers,
            431,
            Closes,
        ),
        // 9: connections.
        row(
            "9112 9.6: Connection: close is honoured, a pipelined request is not answered",
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
            200,
            Closes,
        ),
        row(
            "9112 9.6: close among other connection options",
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, CLOSE\r\n\r\n",
            200,
            Closes,
        ),
        row(
            "9112 9.3 and C.2.2: HTTP/1.0 with keep-alive stays open",
            "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            200,
            Stays,
        ),
        // RFC 9110: expectations, HEAD, bodiless statuses.
        row(
            "9110 10.1.1: an expectation other than 100-continue is 417",
            "GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n",
            417,
            Closes,
        ),
        row(
            "9110 10.1.1 and 15.2: no 100 Continue to HTTP/1.0 (the first status is 200)",
            "POST /api/sum HTTP/1.0\r\nConnection: keep-alive\r\nContent-Type: application/json\r\n\
             Expect: 100-continue\r\nContent-Length: 5\r\n\r\n[1,2]",
            200,
            Stays,
        ),
        row(
            "9110 9.3.2: HEAD has the headers and no body",
            "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
            200,
            Stays,
        ),
        row(
            "9110 15.3.5: 204 has no body (user 1 of the course's three is deleted)",
            "DELETE /api/users/1 HTTP/1.1\r\nHost: x\r\n\r\n",
            204,
            Stays,
        ),
        row(
            "9110 15.4.5: 304 has no body",
            "GET /static/a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n",
            304,
            Stays,
        ),
        row(
            "9110 9.1: an unknown method on a known resource is 405 with Allow (decided: not 501)",
            "BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
            405,
            Stays,
        ),
    ]
}

/// One response to a request of `method`: an `HTTP/1.1` status line, and
/// a body framed by `Content-Length` (no row expects a chunked or
/// close-delimited response).
fn answer(client: &mut Conn, method: &str, deadline: Instant) -> Result<Response, String> {
    let response = client.response_by(method, deadline)?;
    if response.version != "HTTP/1.1" {
        return Err(format!("a status line not in HTTP/1.1: {response:?}"));
    }
    let bodyless = method == "HEAD"
        || response.status < 200
        || response.status == 204
        || response.status == 304;
    if !bodyless {
        if response.header("transfer-encoding").is_some() {
            return Err(format!(
                "no test row expects a chunked response: {response:?}"
            ));
        }
        if response.header("content-length").is_none() {
            return Err(format!("a response without Content-Length: {response:?}"));
        }
    }
    Ok(response)
}

fn start_site(dir: &TempDir) -> Server {
    let public = dir.path().join("public");
    std::fs::create_dir_all(&public).expect("mkdir public");
    std::fs::write(public.join("a.txt"), "a static file\n").expect("write a.txt");
    let config = dir.path().join("server.conf");
    std::fs::write(
        &config,
        format!(
            "[global]\nserver.socket_port: 0\nreseau.request_timeout: 30\n\
             [/static]\ntools.staticdir.on: True\ntools.staticdir.root: '{}'\n\
             tools.staticdir.dir: './public'\n",
            dir.path().display()
        ),
    )
    .expect("write the config");
    let db = dir.path().join("site.db");
    Server::start_cmd(
        &["web"],
        "127.0.0.1:0",
        &[
            "--config",
            config.to_str().expect("UTF-8 path"),
            "--db",
            db.to_str().expect("UTF-8 path"),
        ],
        Some(dir.path()),
    )
}

/// Runs one row; `Err` says how it failed.
fn check(addr: SocketAddr, row: &Row) -> Result<(), String> {
    let method = if row.request.starts_with(b"HEAD ") {
        "HEAD"
    } else {
        "GET"
    };
    let mut client = Conn::open(addr);
    client.send_lossy(&row.request);
    let deadline = Instant::now() + AT_ONCE;
    let got = answer(&mut client, method, deadline)?;
    if got.status != row.status {
        return Err(format!("status {} ({got:?})", got.status));
    }
    match row.after {
        Closes => {
            // Nothing more, then the end of the stream.
            while client.fill(Instant::now() + AT_ONCE)? {}
            if !client.buf.is_empty() {
                return Err(format!(
                    "more bytes after the response: {:?}",
                    client.shown()
                ));
            }
        }
        Stays => {
            client.send_lossy(b"GET /?name=Again HTTP/1.1\r\nHost: x\r\n\r\n");
            let next = answer(&mut client, "GET", Instant::now() + AT_ONCE)?;
            if next.status != 200 || !String::from_utf8_lossy(&next.body).contains("Again") {
                return Err(format!("the next request on the connection got {next:?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn every_row_of_the_rfc_9112_table() {
    let dir = TempDir::new("http-rfc9112");
    let mut server = start_site(&dir);
    let rows = rows();
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            check(server.addr, row).err().map(|why| {
                format!(
                    "{} (expected {} then {:?}): {why}",
                    row.rule, row.status, row.after
                )
            })
        })
        .collect();
    server.assert_running();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn expect_100_continue_gets_100_before_the_body_then_the_answer() {
    let dir = TempDir::new("http-rfc9112-expect");
    let server = start_site(&dir);
    let mut client = Conn::open(server.addr);
    client.send(
        b"POST /api/sum HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Expect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    );
    // RFC 9110 10.1.1: the 100 comes before the body is sent.
    let interim =
        answer(&mut client, "POST", Instant::now() + AT_ONCE).expect("an interim response");
    assert_eq!(interim.status, 100, "{interim:?}");
    client.send(b"[1,2]");
    let last = answer(&mut client, "POST", Instant::now() + AT_ONCE).expect("the final response");
    assert_eq!(
        (
            last.status,
            String::from_utf8_lossy(&last.body).into_owned()
        ),
        (200, r#"{"sum":3}"#.to_string())
    );
}

#[test]
fn options_asterisk_lists_the_methods_with_an_empty_body() {
    let dir = TempDir::new("http-rfc9112-options");
    let server = start_site(&dir);
    let mut client = Conn::open(server.addr);
    client.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    let got = answer(&mut client, "OPTIONS", Instant::now() + AT_ONCE).expect("an answer");
    // RFC 9110 9.3.7: Content-Length: 0 when there is no content.
    assert_eq!(
        (
            got.status,
            got.header("allow"),
            got.header("content-length")
        ),
        (200, Some("GET, HEAD, POST, PUT, DELETE"), Some("0"))
    );
}

#[test]
fn http_1_0_keep_alive_is_confirmed_in_the_response() {
    let dir = TempDir::new("http-rfc9112-keep-alive");
    let server = start_site(&dir);
    let mut client = Conn::open(server.addr);
    client.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let got = answer(&mut client, "GET", Instant::now() + AT_ONCE).expect("an answer");
    // RFC 9112 C.2.2: an HTTP/1.0 client keeps the connection only if the
    // response says keep-alive.
    assert_eq!(got.header("connection"), Some("keep-alive"), "{got:?}");
}
