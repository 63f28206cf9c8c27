"""`reseau web --db postgresql://...` on a private cluster: what only PostgreSQL shows.

    python3 tests/postgres/test_postgres.py --reseau target/release/reseau

Each check starts its own cluster (cluster.py) and its own `reseau web`,
asserts one behaviour, and stops both. Standard library only, the course's
style (http.client, json); every wait bounded.
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, Unavailable  # noqa: E402

WAIT = 15
RESEAU = None


class Web:
    """A `reseau web --db URL --bind 127.0.0.1:0`, its address read from stderr."""

    def __init__(self, db, extra=()):
        self.dir = tempfile.TemporaryDirectory(prefix="reseau-pg-web-")
        self.log = os.path.join(self.dir.name, "stderr.log")
        conf = os.path.join(self.dir.name, "server.conf")
        with open(conf, "w") as f:
            f.write("[global]\nserver.socket_port: 0\n")
        self.proc = subprocess.Popen(
            [RESEAU, "web", "--config", conf, "--bind", "127.0.0.1:0", "--db", db, *extra],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"), cwd=self.dir.name)
        self.addr = None
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and self.proc.poll() is None:
            for line in self.stderr().splitlines():
                if line.startswith("web: listening on "):
                    host, port = line.rsplit(" ", 1)[1].rsplit(":", 1)
                    self.addr = (host, int(port))
                    return
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"reseau web did not start: {self.stderr()}")

    def stderr(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection(*self.addr, timeout=WAIT)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers=headers)
            r = conn.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else None)
        finally:
            conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)
        self.dir.cleanup()


def first_line(proc):
    """The first line of `proc`'s stderr; the process is killed if none comes within WAIT."""
    timer = threading.Timer(WAIT, proc.kill)
    timer.start()
    try:
        return proc.stderr.readline()
    finally:
        timer.cancel()


def check(name):
    def wrap(f):
        CHECKS.append((name, f))
        return f
    return wrap


CHECKS = []


@check("a duplicate name is 409, from the UNIQUE constraint")
def duplicate(pg):
    web = Web(pg.url)
    try:
        assert web.request("POST", "/api/users", {"name": "Ada"})[0] == 201
        status, body = web.request("POST", "/api/users", {"name": "Ada"})
        assert (status, body) == (409, {"error": 'a user named "Ada" already exists'}), (status, body)
        # The database refused it, not a check in reseau: the constraint is there.
        assert pg.psql("SELECT count(*) FROM pg_constraint WHERE conname = 'users_name_key' "
                       "AND contype = 'u'") == "1"
    finally:
        web.stop()


@check("one name POSTed by 16 threads at once: exactly one 201, fifteen 409")
def concurrent(pg):
    web = Web(pg.url)
    try:
        start = threading.Barrier(16)
        statuses = []

        def post():
            start.wait(WAIT)
            statuses.append(web.request("POST", "/api/users", {"name": "Zed"})[0])

        threads = [threading.Thread(target=post) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT)
        assert sorted(statuses) == [201] + [409] * 15, statuses
        assert pg.psql("SELECT count(*) FROM users WHERE name = 'Zed'") == "1"
    finally:
        web.stop()


@check("/healthz: 200, 503 while PostgreSQL is stopped, 200 once it is back")
def healthz(pg):
    web = Web(pg.url)
    try:
        assert web.request("GET", "/healthz") == (200, {"status": "ok"})
        pg.stop()
        started = time.monotonic()
        assert web.request("GET", "/healthz") == (503, {"status": "unavailable"})
        assert time.monotonic() - started < 10, "healthz took over 10 s"
        status, body = web.request("GET", "/api/users/1")
        assert (status, body) == (503, {"error": "database unavailable"}), (status, body)
        pg.start()
        assert web.request("GET", "/healthz") == (200, {"status": "ok"})
        assert web.request("GET", "/api/users/1") == (200, {"id": 1, "name": "CBF"})
        assert pg.password not in web.stderr(), "the password is in the log"
    finally:
        web.stop()


@check("reseau.db = 'postgresql://...' in server.conf selects PostgreSQL; --db wins over it")
def config_key(pg):
    with tempfile.TemporaryDirectory(prefix="reseau-pg-conf-") as d:
        conf = os.path.join(d, "server.conf")
        with open(conf, "w") as f:
            f.write(f"[global]\nserver.socket_port: 0\nreseau.db: '{pg.url}'\n")
        proc = subprocess.Popen([RESEAU, "web", "--config", conf, "--bind", "127.0.0.1:0"],
                                stderr=subprocess.PIPE, text=True, cwd=d)
        try:
            line = first_line(proc)
            assert line.startswith("web: listening on "), line
            assert not os.path.exists(os.path.join(d, "reseau.db")), "a SQLite file was made"
            assert pg.psql("SELECT count(*) FROM users") == "3"
        finally:
            proc.terminate()
            proc.wait(WAIT)
        sqlite = os.path.join(d, "over.db")
        proc = subprocess.Popen([RESEAU, "web", "--config", conf, "--bind", "127.0.0.1:0",
                                 "--db", sqlite], stderr=subprocess.PIPE, text=True, cwd=d)
        try:
            line = first_line(proc)
            assert line.startswith("web: listening on "), line
            assert os.path.exists(sqlite), "--db did not win over reseau.db"
        finally:
            proc.terminate()
            proc.wait(WAIT)


@check("an unreachable database at start: one line, password masked, exit 2")
def unreachable(pg):
    url = pg.url
    pg.stop()
    try:
        conf_dir = tempfile.TemporaryDirectory(prefix="reseau-pg-web-")
        with conf_dir:
            r = subprocess.run([RESEAU, "web", "--bind", "127.0.0.1:0", "--db", url],
                               capture_output=True, text=True, timeout=WAIT * 2,
                               cwd=conf_dir.name)
        masked = url.replace(pg.password, "***")
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2, (r.returncode, r.stderr)
        assert len(lines) == 1 and f"cannot open the database {masked}: " in lines[0], r.stderr
        assert pg.password not in r.stderr, r.stderr
    finally:
        pg.start()


def main():
    global RESEAU
    parser = argparse.ArgumentParser()
    parser.add_argument("--reseau", required=True)
    RESEAU = os.path.abspath(parser.parse_args().reseau)
    failed = 0
    for name, f in CHECKS:
        try:
            with Cluster() as pg:
                f(pg)
            print(f"ok   {name}")
        except Unavailable as e:
            print(f"note: {e}")
            return 3
        except Exception as e:  # one failed check does not hide the others
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
