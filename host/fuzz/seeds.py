#!/usr/bin/env python3
"""Writes the hand-made seed corpora of host/fuzz (corpus/<target>/seed-*).

http_connection's inputs start with 5 bytes of settings (see the target):
flags, head limit 32 + 8*b, body limit 4*b, output buffer 1 + b, number of
cut bytes, then the cuts and the bytes of the connection. web_config's are
config files. The structured targets (http_roundtrip, json_bodies) read
their input through `arbitrary`; their seeds are entries of a campaign's
corpus, kept as they are.

Run from anywhere: python3 host/fuzz/seeds.py
"""
import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, data):
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /?name=Ada HTTP/1.1\r\nHost: a\r\n\r\nGET /listusers HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /api/sum HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n[1,2,3]",
    b"POST /adduser HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    b"\r\n\r\nGET http://h:8080/a?b HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + b"X: y\r\n" * 40 + b"\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ",
    b"GET / HTTP/1.1\nHost: a\n\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
]

for i, request in enumerate(REQUESTS):
    # Default-ish limits, whole output buffer, no cuts; then the same with
    # small limits, a small buffer, a timeout and cuts.
    write("http_connection", bytes([0, 255, 255, 255, 0]) + request)
    write("http_connection", bytes([i % 4, 20, 4, 6, 3, 1, 7, 2]) + request)

CONFIGS = [
    b"[global]\nserver.socket_port: 9090\n\n[/static]\ntools.staticdir.on: True\n"
    b"tools.staticdir.root: os.path.abspath(os.getcwd())\ntools.staticdir.dir: './public'\n",
    b"# a comment\n; another\n[global]\nserver.socket_host = \"0.0.0.0\"\nserver.socket_port: 0\n"
    b"server.max_request_body_size: 1_048_576\nserver.max_request_header_size: 8192\n"
    b"server.thread_pool: 4\nserver.socket_timeout: 5\nreseau.db: 'data/users.db'\n"
    b"reseau.max_connections: 100\nreseau.request_timeout: 3\nlog.screen: False\n"
    b"log.access_file: 'access.log'\nlog.error_file: ''\ntools.encode.on: True\n"
    b"tools.encode.encoding: 'UTF-8'\n[/static]\ntools.staticdir.on: True\n"
    b"tools.staticdir.dir: 'public'\ntools.staticdir.index: 'index.html'\ntools.gzip.on: True\n"
    b"[/favicon.ico]\ntools.staticfile.on: True\ntools.staticfile.root: '/srv'\n"
    b"tools.staticfile.filename: 'f.ico'\n",
    b"[/]\ntools.staticdir.root: '/srv'\n[/static]\ntools.staticdir.on: True\ntools.staticdir.dir: 'public'\n"
    b"[/static/private]\ntools.staticdir.on: False\n",
    b"[global]\nserver.socket_host: 'a\\'b\\\\c\\n\\t'\n",
    b"[global]\nserver.socket_port: 'abc'\n",
    b"[/f]\ntools.staticfile.on: True\n",
    b"[/a/]\n",
    b"[global]\ntools.sessions.on: True\n",
    b"[global]\r\nserver.socket_port: 1\r\n",
]

for config in CONFIGS:
    write("web_config", config)

# db_url's: a first byte whose low bit 1 puts `postgresql://` before the
# rest (b"\x01..."); 0 keeps the text as it is.
URLS = [
    b"\x01u:pw@h:5/d",
    b"\x01u:p@w/x@h/d",
    b"\x01h/d?password=pw&sslmode=disable",
    b"\x01h/d?pass%77ord=pw",
    b"\x01h/d?application_name=x:pw@y",
    b"\x01u:pw@[::1]:5432,h2:5433/d?connect_timeout=3",
    b"\x00postgres://u:pw@h/d?PASSWORD=x",
    b"\x00users.db",
]

for url in URLS:
    write("db_url", url)
