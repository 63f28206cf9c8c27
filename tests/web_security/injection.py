"""Injection attempts against a running `reseau web`, as a table.

    python3 injection.py HOST:PORT SITE_DIR LOG_FILE

SITE_DIR is the site's folder: `public/` (the static folder, holding
`style.css`, `sub/nested.txt` and `index.html`, its index file) and `secret` outside it; LOG_FILE is the
server's stderr. Each row sends raw bytes (a socket, no HTTP library that
would clean them) and expects one status, then checks what the row is about:

- SQL metacharacters in every field of every route: the status the same
  value without them gets, the value back literally, and the data intact
  (the course's users and every user added are there, the count right);
- path traversal variants (encoded, double-encoded, backslashes, NUL,
  overlong UTF-8, `..;`): 404 (or 400 for bytes no URL may hold), and no
  byte of the secret file;
- script tags in every echoed value: escaped in HTML pages, and JSON
  served as application/json with nosniff;
- header injection: CR/LF in values that reach a header (the redirect's
  Location) or the log never split them.

Only the standard library, as the course's clients. Exits 1 if any row
fails, printing each failure.
"""

import json
import socket
import sys
import urllib.parse

ADDR = sys.argv[1]
HOST, PORT = ADDR.rsplit(":", 1)
SITE_DIR = sys.argv[2]
LOG_FILE = sys.argv[3]
SECRET = open(f"{SITE_DIR}/secret").read()

SQL = [
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    "\" OR \"\"=\"",
    "Robert'); DROP TABLE users;--",
    "1; SELECT * FROM users",
    "%' --",
    "\\'",
    "' UNION SELECT name FROM sqlite_master --",
    "admin'--",
    "') OR 1=1 LIMIT 1 OFFSET 1 --",
    "1 AND sleep(5)",
    "'||(SELECT sqlite_version())||'",
]
SCRIPT = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
# The policy every page carries (web/app.rs, with_safety_headers).
CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


class Answer:
    def __init__(self, raw):
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        parts = lines[0].split(" ")
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        self.headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.append((name, value.strip()))
        self.text = self.body.decode("utf-8", "replace")

    def header(self, name):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"{self.status_line} {self.headers} {self.text[:300]!r}"


def send(raw):
    """Sends raw request bytes, reads to the end (every request says close)."""
    with socket.create_connection((HOST, int(PORT)), timeout=10) as s:
        s.sendall(raw)
        chunks = []
        while True:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
    return Answer(b"".join(chunks))


def request(method, target, body=None, content_type=None, headers=()):
    if isinstance(target, str):
        target = target.encode("utf-8")
    if isinstance(body, str):
        body = body.encode("utf-8")
    head = method.encode() + b" " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    if content_type is not None:
        head += b"Content-Type: " + content_type.encode("utf-8") + b"\r\n"
    for name, value in headers:
        head += name.encode() + b": " + value + b"\r\n"
    if body is not None:
        head += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    return send(head + b"\r\n" + (body or b""))


def post_json(target, value, method="POST"):
    return request(method, target, json.dumps(value), "application/json")


def rust_escaped(text):
    """`text` as the server's messages quote it (Rust's `{:?}`)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def q(text):
    return urllib.parse.quote(text, safe="")


failures = []
rows = 0


def row(what, answer, status, *checks):
    """One row: the status, then each (description, bool) check."""
    global rows
    rows += 1
    if answer.status != status:
        failures.append(f"{what}: expected {status}, got {answer!r}")
        return
    for description, ok in checks:
        if not ok:
            failures.append(f"{what}: {description}: {answer!r}")
            return


def is_json(answer):
    return (
        "content type application/json with nosniff",
        (answer.header("Content-Type") or "").startswith("application/json")
        and answer.header("X-Content-Type-Options") == "nosniff",
    )


def escaped(answer, raw=SCRIPT, esc=ESCAPED):
    return (
        "an HTML page with the script escaped",
        (answer.header("Content-Type") or "").startswith("text/html")
        and raw not in answer.text
        and esc in answer.text,
    )


def no_secret(answer):
    return ("nothing of the secret file", SECRET not in answer.text and "root:x:0" not in answer.text)


# 1. SQL metacharacters in every field of every route.
before = request("GET", "/api/users?per_page=100").json()
expected_names = [u["name"] for u in before["users"]]
for i, payload in enumerate(SQL):
    name = f"{payload} #{i}"
    created = post_json("/api/users", {"name": name})
    row(f"POST /api/users name {name!r}", created, 201, is_json(created),
        ("the name back literally", created.status == 201 and created.json()["name"] == name))
    if created.status != 201:
        continue
    location = created.header("Location")
    got = request("GET", location)
    row(f"GET {location} of {name!r}", got, 200, ("the name back literally", got.json()["name"] == name))
    renamed = f"{payload} renamed #{i}"
    put = post_json(location, {"name": renamed}, method="PUT")
    row(f"PUT {location} name {renamed!r}", put, 200, ("the new name literally", put.json()["name"] == renamed))
    expected_names.append(renamed)
    course = f"{payload} course #{i}"
    added = post_json("/adduser", {"name": course})
    row(f"POST /adduser name {course!r}", added, 200, ("OK", added.json() == {"OK": True}))
    expected_names.append(course)
    twice = f"{payload} twice #{i}"
    added = post_json("/adduser", json.dumps({"name": twice}))
    row(f"POST /adduser double-encoded {twice!r}", added, 200, ("OK", added.json() == {"OK": True}))
    expected_names.append(twice)
    for key in ("page", "per_page"):
        listed = request("GET", f"/api/users?{key}={q(payload)}")
        row(f"GET /api/users?{key}={payload!r}", listed, 422, is_json(listed),
            ("the value named in the error (quotes and backslashes escaped)",
             f'got "{rust_escaped(payload)}"' in listed.json()["error"]))
    by_id = request("GET", f"/api/users/{q(payload)}")
    row(f"GET /api/users/{payload!r}", by_id, 404, is_json(by_id))
    deleted = request("DELETE", f"/api/users/{q(payload)}")
    row(f"DELETE /api/users/{payload!r}", deleted, 404, is_json(deleted))
    summed = post_json("/api/sum", [1, payload])
    row(f"POST /api/sum [1, {payload!r}]", summed, 422, is_json(summed))
    hello = request("GET", f"/?name={q(payload)}")
    row(f"GET /?name={payload!r}", hello, 200,
        ("the name in the page, escaped", f"<b>{payload.replace('&', '&amp;').replace(chr(39), '&#39;').replace(chr(34), '&quot;').replace('<', '&lt;').replace('>', '&gt;')}</b>" in hello.text))
    login = request("POST", "/login", f"name={q(payload)}", "application/x-www-form-urlencoded")
    row(f"POST /login name={payload!r}", login, 200)
after = request("GET", "/api/users?per_page=100").json()
names = [u["name"] for u in after["users"]]
row("the data after every SQL row", request("GET", "/listusers"), 200,
    ("every user there, in order, nothing more", names == expected_names and after["total"] == len(expected_names)))

# 2. Path traversal: each variant is 404 (not served by the static tool, no
# route has that path) or 400 (bytes no request target may hold), never
# the secret.
TRAVERSAL_404 = [
    "/static/../secret",
    "/static/%2e%2e/secret",
    "/static/%2E%2E/secret",
    "/static/.%2e/secret",
    "/static/%2e./secret",
    "/static/%252e%252e/secret",
    "/static/%252e%252e%252fsecret",
    "/static/..%2fsecret",
    "/static/%2e%2e%2fsecret",
    "/static/sub/..%2f..%2fsecret",
    "/static/sub/%2e%2e/%2e%2e/secret",
    "/static/..%5csecret",
    "/static/%2e%2e%5csecret",
    "/static/..%255csecret",
    "/static/%c0%ae%c0%ae/secret",
    "/static/%c0%ae%c0%ae%c0%afsecret",
    "/static/%e0%80%ae%e0%80%ae/secret",
    "/static/%c0%2e%c0%2e/secret",
    "/static/..;/secret",
    "/static/sub/..;/..;/secret",
    "/static/%2e%2e;/secret",
    "/static/....//secret",
    "/static/..../secret",
    "/static/%u002e%u002e/secret",
    "/static/%00",
    "/static/style.css%00.png",
    "/static/%00/../secret",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/%252fetc%252fpasswd",
    "/static/file:%2f%2f%2fetc%2fpasswd",
    "/static/C:%5cWindows%5cwin.ini",
    "/static/sub/../../secret",
    "/static/./../secret",
    "/static/%2e/%2e%2e/secret",
    "http://x/static/../secret",
    "/static/..%c0%afsecret",
    "/static/..%ef%bc%8fsecret",
    "/secret",
    "/../secret",
    "/%2e%2e/secret",
    # A raw backslash is taken (it is visible ASCII) but is no separator: a
    # segment holding one is never a static path.
    "/static/..\\secret",
    "/static/\\..\\secret",
    "/static/sub\\..\\..\\secret",
]
TRAVERSAL_400 = [
    b"/static/\x00/secret",
    b"/static/\xc0\xae\xc0\xae/secret",
    b"/static/..\t/secret",
]
for target in TRAVERSAL_404:
    got = request("GET", target)
    row(f"GET {target}", got, 404, no_secret(got))
for target in TRAVERSAL_400:
    got = request("GET", target)
    row(f"GET {target!r}", got, 400, no_secret(got))
row("GET /static/sub/nested.txt after the traversal rows", request("GET", "/static/sub/nested.txt"), 200)

# 3. Script tags in every value a page or an answer echoes.
got = request("GET", f"/?name={q(SCRIPT)}")
row("GET /?name=<script>", got, 200, escaped(got))
got = request("GET", f"/?name={q(SCRIPT)}", headers=[("Accept-Encoding", b"identity")])
row("GET /?name=<script> (identity)", got, 200, escaped(got),
    ("a policy that runs only the site's scripts", got.header("Content-Security-Policy") == CSP))
got = request("POST", "/login", f"name={q(SCRIPT)}", "application/x-www-form-urlencoded")
row("POST /login name=<script>", got, 200, escaped(got))
got = request("POST", f"/login?name={q(SCRIPT)}")
row("POST /login?name=<script>", got, 200, escaped(got))
got = request("GET", f"/no/such/{q(SCRIPT)}")
row("GET /no/such/<script> (the 404 page echoes the URL)", got, 404,
    escaped(got, raw="<script>", esc="%3Cscript%3E") if "%3Cscript%3E" in got.text else escaped(got))
got = request("POST", "/login", "name=x", SCRIPT)
row("POST /login with Content-Type <script> (the 415 page echoes it)", got, 415, escaped(got))
created = post_json("/api/users", {"name": SCRIPT})
row("POST /api/users name <script>", created, 201, is_json(created),
    ("the name back literally in JSON", created.json()["name"] == SCRIPT))
listed = request("GET", "/listusers")
row("GET /listusers with a <script> name", listed, 200, is_json(listed), ("literal in JSON", SCRIPT in listed.json()["users"]))
got = request("GET", f"/api/{q(SCRIPT)}")
row("GET /api/<script> (the error echoes the path)", got, 404, is_json(got))
got = request("GET", f"/api/users/{q(SCRIPT)}")
row("GET /api/users/<script>", got, 404, is_json(got))
got = request("GET", f"/api/users?page={q(SCRIPT)}")
row("GET /api/users?page=<script>", got, 422, is_json(got), ("echoed in JSON, literally", SCRIPT in got.json()["error"]))
got = post_json("/api/sum", [SCRIPT])
row("POST /api/sum [<script>]", got, 422, is_json(got))
got = request("POST", "/api/users", "{}", SCRIPT)
row("POST /api/users with Content-Type <script> (echoed)", got, 415, is_json(got), ("echoed in JSON", SCRIPT in got.json()["error"]))
got = request("POST", "/api/users", "{\"name\": " + json.dumps(SCRIPT), "application/json")
row("POST /api/users malformed JSON holding a <script>", got, 400, is_json(got))

# 4. Header injection: CR/LF in what reaches a header or the log.
got = request("GET", "/static?a=%0D%0ASet-Cookie:%20evil=1")
row("GET /static?a=%0D%0ASet-Cookie (echoed in the redirect's Location)", got, 301,
    ("Location keeps it encoded, no Set-Cookie",
     got.header("Location") == "/static/?a=%0D%0ASet-Cookie:%20evil=1" and got.header("Set-Cookie") is None))
got = request("GET", "/static?a=%E2%80%A8%C2%85b")
row("GET /static?a=<U+2028, U+0085 encoded> (echoed in the redirect's Location)", got, 301,
    ("Location keeps it encoded", got.header("Location") == "/static/?a=%E2%80%A8%C2%85b"))
for target in [b"/static\r\nSet-Cookie: evil=1", b"/?name=a\rSet-Cookie: evil=1", b"/?name=a\nSet-Cookie: evil=1"]:
    got = request("GET", target)
    row(f"GET {target!r} (a raw CR or LF in the target)", got, 400, ("no Set-Cookie", got.header("Set-Cookie") is None))
got = request("GET", "/?name=a%0D%0ASet-Cookie:%20evil=1")
row("GET /?name=a%0D%0ASet-Cookie (decoded into the page, not a header)", got, 200,
    ("no Set-Cookie", got.header("Set-Cookie") is None))
got = request("GET", "/", headers=[("X-Forwarded-For", b"1.2.3.4\rSet-Cookie: evil=1")])
row("a header value with a bare CR", got, 400, ("no Set-Cookie", got.header("Set-Cookie") is None))
got = request("GET", "/", headers=[("User-Agent", b"a\x1b[2J\x1b]0;owned\x07")])
row("a header value with terminal escapes", got, 400)
created = post_json("/api/users", {"name": "x\r\nSet-Cookie: evil=1"})
row("POST /api/users name with CR LF", created, 422, is_json(created), ("no Set-Cookie", created.header("Set-Cookie") is None))
got = request("GET", "/no-such-page%0D%0Aweb:%20forged%20line%1b[31m")
row("GET a URL with encoded CR LF and ESC (logged)", got, 404)

# 5. Names that spoof (UTS #39): refused with 422 on every route that
# takes a name, and never listed.
SPOOFS = ["\u202enimda", "ad\u200bmin", "admin\u2066", "\u3164", "\u200b\u200c\u200d",
          "admin\u00a0", "CBF\ufe0f", "\u115f", "a\u0085b", "\U000e0041dmin"]
for name in SPOOFS:
    for method, path, body in [("POST", "/api/users", {"name": name}),
                               ("PUT", "/api/users/1", {"name": name}),
                               ("POST", "/adduser", {"name": name}),
                               ("POST", "/adduser", json.dumps({"name": name}))]:
        got = post_json(path, body, method=method)
        row(f"{method} {path} name {name!r}", got, 422, is_json(got),
            ("the message names the character", "U+" in got.json().get("error", "")))
listed = request("GET", "/listusers").json()["users"]
row("no spoofing name listed", Answer(b"HTTP/1.1 200 OK\r\n\r\n"), 200,
    ("none of them stored", not set(SPOOFS) & set(listed)))

# The log: every line is the server's, none split or forged.
log = open(LOG_FILE, "rb").read().decode("utf-8", "replace").splitlines()
bad = [line for line in log if not line.startswith("web: ") or "\x1b" in line or "\r" in line]
forged = [line for line in log if line.startswith("web: forged")]
row("the server's log after every row", Answer(b"HTTP/1.1 200 OK\r\n\r\n"), 200,
    ("every line is the server's, no raw CR or ESC", not bad and not forged))

print(f"{rows} injection rows, {len(failures)} failed")
for failure in failures:
    print("FAIL", failure)
sys.exit(1 if failures else 0)
