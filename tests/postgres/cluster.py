"""A private PostgreSQL cluster for tests: a temporary folder, a free port, gone on exit.

    from cluster import Cluster          # with tests/postgres on sys.path
    with Cluster() as pg:                # initdb + start; raises Unavailable if no binaries
        run(["reseau", "web", "--db", pg.url])
        assert pg.psql("SELECT count(*) FROM users") == "3"
        pg.stop(); ...; pg.start()       # same folder, same port, same data

Why a cluster of our own rather than the machine's: the tests must not touch
(or depend on) a database someone runs, and CI runs as root, which initdb
refuses. So the cluster's files belong to an unprivileged user (`nobody`,
through `runuser`, when we are root), it listens on 127.0.0.1 only (no Unix
socket outside its folder), and every role has a password generated here:
`scram-sha-256` on TCP. Everything -- the server and the folder -- is
removed on exit, when the body raised too. Every wait is bounded
(`TIMEOUT`); a server that does not stop is killed by its PID.

Standard library only, so any test script (and `python3 cluster.py -- CMD`,
which runs CMD with `RESEAU_TEST_DB` set to the URL) can use it.
"""

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# Bound of each step: initdb, start, stop, one psql.
TIMEOUT = 60


class Unavailable(Exception):
    """The PostgreSQL server binaries are not installed (callers skip)."""


def bindir():
    """The folder of initdb/pg_ctl/postgres, or raise Unavailable."""
    candidates = []
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0:
            candidates.append(out.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    # Newest version first.
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True,
                         key=lambda p: [int(x) if x.isdigit() else 0 for x in p.split("/")])
    for d in candidates:
        if all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            return d
    raise Unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found; "
                      "install the Debian package postgresql (bash tests/postgres/install.sh)")


def free_port():
    """A port nobody listens on now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A running PostgreSQL with one database and one role owning it.

    Attributes once entered: `url` (postgresql://USER:PASS@127.0.0.1:PORT/DB
    for the role), `superuser_url`, `port`, `user`, `password`, `database`,
    `folder`, `log` (the server's log file). `settings` are extra `-c`
    server settings (name -> value), e.g. {"max_connections": "200"}.
    """

    def __init__(self, database="reseau", user="reseau", settings=None):
        self.database = database
        self.user = user
        self.password = secrets.token_hex(16)
        self._superpass = secrets.token_hex(16)
        self.settings = dict(settings or {})
        self.folder = None
        self.port = None
        self._bin = None
        self._owner = None  # (uid, gid) when we are root

    # -- the URLs ----------------------------------------------------------
    @property
    def url(self):
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def superuser_url(self):
        return f"postgresql://postgres:{self._superpass}@127.0.0.1:{self.port}/{self.database}"

    @property
    def log(self):
        return os.path.join(self.folder, "server.log")

    @property
    def _data(self):
        return os.path.join(self.folder, "data")

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self):
        self._bin = bindir()
        self.folder = tempfile.mkdtemp(prefix="reseau-pg-")
        try:
            if os.geteuid() == 0:
                import pwd
                pw = pwd.getpwnam("nobody")
                self._owner = (pw.pw_uid, pw.pw_gid)
                os.chown(self.folder, *self._owner)
            pwfile = os.path.join(self.folder, "pw")
            with open(pwfile, "w") as f:
                f.write(self._superpass + "\n")
            if self._owner:
                os.chown(pwfile, *self._owner)
            self._run_as_owner([
                os.path.join(self._bin, "initdb"), "-D", self._data, "-U", "postgres",
                "--pwfile", pwfile, "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
                "-E", "UTF8", "--no-locale", "--no-sync",
            ])
            os.unlink(pwfile)
            self._start_on_free_port()
            self.psql(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'", database="postgres")
            self.psql(f"CREATE DATABASE {self.database} OWNER {self.user}", database="postgres")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _start_on_free_port(self):
        # Another process may take the port between free_port() and the bind:
        # try a few.
        for attempt in range(5):
            self.port = free_port()
            try:
                self.start()
                return
            except RuntimeError:
                if attempt == 4:
                    raise

    def start(self):
        """Start the server (again) on `self.port`; returns once it accepts connections."""
        opts = [f"-p {self.port}", "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.folder}"]
        opts += [f"-c {k}={v}" for k, v in self.settings.items()]
        r = self._run_as_owner([
            os.path.join(self._bin, "pg_ctl"), "-D", self._data, "-l", self.log,
            "-w", "-t", str(TIMEOUT), "-o", " ".join(opts), "start",
        ], check=False)
        if r.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start on port {self.port}: {self._log_tail()}")

    def stop(self, mode="fast"):
        """Stop the server (its files stay: `start()` brings it back)."""
        if self.folder is None or not os.path.exists(os.path.join(self._data, "postmaster.pid")):
            return
        r = self._run_as_owner([
            os.path.join(self._bin, "pg_ctl"), "-D", self._data, "-m", mode,
            "-w", "-t", str(TIMEOUT), "stop",
        ], check=False)
        if r.returncode != 0:
            self._kill_postmaster()

    def close(self):
        """Stop the server (killing it if it must) and delete the folder."""
        if self.folder is None:
            return
        try:
            self.stop()
        except Exception:
            self._kill_postmaster()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    # -- for assertions ----------------------------------------------------
    def psql(self, sql, database=None):
        """Run `sql` as the superuser; return its output (unaligned, tuples only), stripped.

        Raises RuntimeError with psql's message when a statement fails.
        """
        env = dict(os.environ, PGPASSWORD=self._superpass, PGCONNECT_TIMEOUT="10")
        r = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", database or self.database, "-c", sql],
            capture_output=True, text=True, timeout=TIMEOUT, env=env,
            stdin=subprocess.DEVNULL,
        )
        if r.returncode != 0:
            raise RuntimeError(f"psql failed ({r.returncode}): {r.stderr.strip()}")
        return r.stdout.strip()

    # -- helpers -----------------------------------------------------------
    def _run_as_owner(self, argv, check=True):
        name = os.path.basename(argv[0])
        if self._owner:
            argv = ["runuser", "-u", "nobody", "--"] + argv
        r = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT + 10,
                           stdin=subprocess.DEVNULL, cwd=self.folder)
        if check and r.returncode != 0:
            raise RuntimeError(f"{name} failed ({r.returncode}): {r.stderr.strip()[-800:]}")
        return r

    def _log_tail(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-800:]
        except OSError:
            return "(no log)"

    def _kill_postmaster(self):
        try:
            with open(os.path.join(self._data, "postmaster.pid")) as f:
                pid = int(f.readline())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def main(argv):
    """`cluster.py -- CMD ARGS`: run CMD with RESEAU_TEST_DB (and RESEAU_TEST_DB_SUPER) set."""
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: cluster.py -- CMD [ARGS...]", file=sys.stderr)
        return 2
    try:
        with Cluster() as pg:
            env = dict(os.environ, RESEAU_TEST_DB=pg.url, RESEAU_TEST_DB_SUPER=pg.superuser_url)
            return subprocess.run(argv, env=env).returncode
    except Unavailable as e:
        print(f"note: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
