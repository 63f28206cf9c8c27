#!/usr/bin/env python3
"""TLS on every reseau server, against the real binary.

Course-style clients (socket, struct, pickle) wrapped in
ssl.create_default_context(cafile=...), Debian's openssl s_client and curl,
plain-text and hostile clients, start refusals and SIGHUP reloads. Each
test asserts one behaviour; every wait is bounded. Standard library only.

    python3 tests/tls/test_tls.py --reseau target/release/reseau [unittest args]
"""

import argparse
import hashlib
import os
import pickle
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

RESEAU = None
TIMEOUT = 10.0
# The runtime's handshake bound (net::HANDSHAKE_TIMEOUT) and the loop's tick.
HANDSHAKE = 10.0
TICK = 0.5


def run(*args, timeout=30):
    return subprocess.run([RESEAU, *args], capture_output=True, text=True, timeout=timeout)


def make_cert(folder, *hosts):
    os.makedirs(folder, exist_ok=True)
    args = ["cert", "--out", folder]
    for host in hosts or ("localhost", "127.0.0.1"):
        args += ["--host", host]
    done = run(*args)
    assert done.returncode == 0, done.stderr
    return os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")


def fingerprint_of_file(cert):
    with open(cert) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


class Running:
    """A reseau server process; its stderr collected by a thread."""

    def __init__(self, *args, names=1):
        self.proc = subprocess.Popen(
            [RESEAU, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.lines = []
        self.cond = threading.Condition()
        self.addresses = {}
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + TIMEOUT
        while len(self.addresses) < names:
            line = self.wait_for(r"(\w+): listening on (\S+)", deadline - time.monotonic(), len(self.addresses))
            if line is None:
                self.stop()
                raise RuntimeError("server did not start: " + "".join(self.lines))

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append(line)
                m = re.search(r"(\w+): listening on (\S+)", line)
                if m:
                    host, port = m.group(2).rsplit(":", 1)
                    self.addresses[m.group(1)] = (host, int(port))
                self.cond.notify_all()

    def wait_for(self, pattern, within, skip=0):
        """The first line past the first `skip` matches of `pattern`, or None."""
        deadline = time.monotonic() + within
        with self.cond:
            while True:
                found = [l for l in self.lines if re.search(pattern, l)]
                if len(found) > skip:
                    return found[skip]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def count(self, pattern):
        with self.cond:
            return sum(1 for l in self.lines if re.search(pattern, l))

    def port(self, name):
        return self.addresses[name][1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def tls_connect(port, cafile, host="localhost"):
    ctx = ssl.create_default_context(cafile=cafile)
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    return ctx.wrap_socket(raw, server_hostname=host)


def recv_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def course_sum(s, ints, protocol):
    data = pickle.dumps(ints, protocol=protocol)
    s.sendall(struct.pack("I", len(data)) + data)
    return struct.unpack("I", recv_exactly(s, 4))[0]


def read_until_closed(s, within):
    """Reads until the peer closes (b'' or a reset); the seconds it took,
    or None if it is still open after `within`."""
    start = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - start < within:
        try:
            if not s.recv(4096):
                return time.monotonic() - start
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
    return None


def client_hello():
    """The bytes of a ClientHello from Python's ssl, never sent by a socket."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def tool(name):
    return shutil.which(name) is not None


def s_client(port, cafile, *flags, data=b""):
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", cafile,
         "-servername", "localhost", *flags],
        input=data, capture_output=True, timeout=TIMEOUT,
    )


class Course(unittest.TestCase):
    """`reseau serve --tls-cert --tls-key`: the web, echo and the adder, all TLS."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="reseau-tls-")
        cls.cert, cls.key = make_cert(os.path.join(cls.tmp, "pki"))
        cls.server = Running(
            "serve", "--bind", "127.0.0.1:0", "--echo", "127.0.0.1:0", "--adder", "127.0.0.1:0",
            "--db", os.path.join(cls.tmp, "site.db"), "--threads", "2",
            "--tls-cert", cls.cert, "--tls-key", cls.key, names=3,
        )

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_adder_sums_over_tls_with_every_pickle_protocol(self):
        port = self.server.port("adder")
        sums = []
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            with tls_connect(port, self.cert) as s:
                sums.append(course_sum(s, [1, 2, 3, protocol], protocol))
        self.assertEqual(sums, [6 + p for p in range(pickle.HIGHEST_PROTOCOL + 1)])

    def test_adder_trusts_the_ip_san(self):
        with tls_connect(self.server.port("adder"), self.cert, host="127.0.0.1") as s:
            self.assertEqual(course_sum(s, [40, 2], 2), 42)

    def test_echo_over_tls(self):
        # As the course's client: send, read the echo, close. (Python's
        # SSLSocket.shutdown() drops TLS, so the client does not half-close.)
        with tls_connect(self.server.port("echo"), self.cert) as s:
            s.sendall(b"hello over tls")
            self.assertEqual(recv_exactly(s, 14), b"hello over tls")

    def https(self, method, path, body=None):
        import http.client
        ctx = ssl.create_default_context(cafile=self.cert)
        conn = http.client.HTTPSConnection("localhost", self.server.port("web"), context=ctx, timeout=TIMEOUT)
        headers = {"Content-Type": "application/json"} if body else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, data

    def test_web_root_over_https(self):
        self.assertEqual(self.https("GET", "/")[0], 200)

    def test_web_api_creates_a_user_over_https(self):
        self.assertEqual(self.https("POST", "/api/users", b'{"name": "tls-user"}')[0], 201)

    @unittest.skipUnless(tool("openssl"), "openssl is not installed")
    def test_openssl_tls12(self):
        out = s_client(self.server.port("web"), self.cert, "-tls1_2").stdout.decode()
        # The handshake's own line: the session block after it needs the
        # server's session ticket, which may come after s_client printed.
        self.assertRegex(out, r"New, TLSv1\.2, Cipher is ")

    @unittest.skipUnless(tool("openssl"), "openssl is not installed")
    def test_openssl_tls13(self):
        out = s_client(self.server.port("web"), self.cert, "-tls1_3").stdout.decode()
        self.assertRegex(out, r"New, TLSv1\.3, Cipher is ")

    @unittest.skipUnless(tool("openssl"), "openssl is not installed")
    def test_openssl_tls11_is_refused_by_the_server(self):
        done = s_client(self.server.port("web"), self.cert, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
        # The client offered TLS 1.1 (it wrote its hello); the server's alert
        # refused it: rustls answers handshake_failure.
        self.assertIn(b"sslv3 alert handshake failure", done.stdout + done.stderr)

    @unittest.skipUnless(tool("openssl"), "openssl is not installed")
    def test_alpn_http11_is_negotiated(self):
        out = s_client(self.server.port("web"), self.cert, "-alpn", "h2,http/1.1").stdout.decode()
        self.assertIn("ALPN protocol: http/1.1", out)

    @unittest.skipUnless(tool("curl"), "curl is not installed")
    def test_curl_with_cacert(self):
        done = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", self.cert,
             f"https://127.0.0.1:{self.server.port('web')}/"],
            capture_output=True, text=True, timeout=TIMEOUT,
        )
        self.assertEqual(done.stdout, "200")

    def test_plain_course_client_on_a_tls_port_is_closed(self):
        with socket.create_connection(("127.0.0.1", self.server.port("adder")), timeout=TIMEOUT) as s:
            data = pickle.dumps([1, 2])
            s.sendall(struct.pack("I", len(data)) + data)
            self.assertIsNotNone(read_until_closed(s, 5))

    def test_plain_client_is_one_log_line_and_tls_clients_still_answered(self):
        port = self.server.port("adder")
        before = self.server.count(r"adder: .*tls: ")
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
            s.sendall(b"\x05\x00\x00\x00hello")
            read_until_closed(s, 5)
        self.server.wait_for(r"adder: .*tls: ", 5, before)
        with tls_connect(port, self.cert) as s:
            self.assertEqual(course_sum(s, [5, 5], 3), 10)

    def test_one_sighup_reloads_all_three_servers(self):
        before = self.server.count(r"tls certificate reloaded")
        self.server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while self.server.count(r"tls certificate reloaded") < before + 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        names = sorted(re.match(r"\S*?(\w+): tls certificate reloaded", l.split("] ")[-1]).group(1)
                       for l in self.server.lines if "tls certificate reloaded" in l)[-3:]
        self.assertEqual(sorted(names), ["adder", "echo", "web"])


class Hostile(unittest.TestCase):
    """Hostile clients during the handshake, against `reseau adder serve` over TLS."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="reseau-tls-")
        cls.cert, cls.key = make_cert(os.path.join(cls.tmp, "pki"))
        cls.server = Running("adder", "serve", "--bind", "127.0.0.1:0", "--threads", "1",
                             "--tls-cert", cls.cert, "--tls-key", cls.key)
        cls.port = cls.server.port("adder")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def tearDown(self):
        # After every hostile client, a normal one is answered.
        with tls_connect(self.port, self.cert) as s:
            self.assertEqual(course_sum(s, [1, 1], 2), 2)

    def test_garbage_client_hello_is_closed(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT) as s:
            s.sendall(b"\x16\x03\x01\x00\x10" + os.urandom(16))
            self.assertIsNotNone(read_until_closed(s, 5))

    def test_silent_client_is_closed_at_the_handshake_deadline(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT) as s:
            took = read_until_closed(s, HANDSHAKE + 3)
        self.assertTrue(took is not None and HANDSHAKE - 1 <= took <= HANDSHAKE + 2 * TICK + 1, took)

    def test_half_handshake_is_closed_at_the_deadline(self):
        hello = client_hello()
        with socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT) as s:
            s.sendall(hello[: len(hello) // 2])
            took = read_until_closed(s, HANDSHAKE + 3)
        self.assertTrue(took is not None and took <= HANDSHAKE + 2 * TICK + 1, took)

    def test_slowloris_handshake_cannot_outlast_the_deadline(self):
        hello = client_hello()
        start = time.monotonic()
        closed = None
        with socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT) as s:
            # A byte every 100 ms would take len(hello)/10 s (tens of seconds).
            for byte in hello:
                try:
                    s.sendall(bytes([byte]))
                except OSError:
                    closed = time.monotonic() - start
                    break
                if time.monotonic() - start > HANDSHAKE + 5:
                    break
                time.sleep(0.1)
            if closed is None:
                left = read_until_closed(s, 2)
                closed = None if left is None else time.monotonic() - start
        self.assertTrue(closed is not None and closed <= HANDSHAKE + 2 * TICK + 1.5, closed)

    def test_the_deadline_is_one_log_line(self):
        before = self.server.count(r"tls handshake not finished within")
        with socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT) as s:
            read_until_closed(s, HANDSHAKE + 3)
        self.assertIsNotNone(self.server.wait_for(r"tls handshake not finished within 10 s", 2, before))


class Refusals(unittest.TestCase):
    """A bad certificate or key stops the start: one line, exit code 2."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="reseau-tls-")
        self.cert, self.key = make_cert(os.path.join(self.tmp, "a"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, cert, key):
        return run("echo", "serve", "--bind", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key, timeout=10)

    def test_mismatched_key(self):
        _, other_key = make_cert(os.path.join(self.tmp, "b"))
        done = self.start(self.cert, other_key)
        self.assertEqual((done.returncode, done.stderr),
                         (2, f"reseau: {other_key}: this key does not match the certificate of {self.cert}\n"))

    def test_unreadable_file(self):
        missing = os.path.join(self.tmp, "missing.pem")
        done = self.start(missing, self.key)
        self.assertEqual((done.returncode, done.stderr),
                         (2, f"reseau: cannot read {missing}: No such file or directory (os error 2)\n"))

    def test_key_file_without_a_key(self):
        done = self.start(self.cert, self.cert)
        self.assertEqual((done.returncode, done.stderr), (2, f"reseau: {self.cert}: no PEM private key in it\n"))

    def test_tls_cert_without_tls_key_is_a_usage_error(self):
        done = run("adder", "serve", "--tls-cert", self.cert)
        self.assertEqual(done.returncode, 2)

    def test_cert_refuses_to_overwrite(self):
        done = run("cert", "--out", os.path.join(self.tmp, "a"))
        self.assertEqual((done.returncode, done.stderr.count("\n"), "--force" in done.stderr), (2, 1, True))

    def test_cert_key_is_private(self):
        self.assertEqual(os.stat(self.key).st_mode & 0o777, 0o600)


class Reload(unittest.TestCase):
    """SIGHUP on `reseau echo serve --tls-cert --tls-key`."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="reseau-tls-")
        self.old_cert, self.old_key = make_cert(os.path.join(self.tmp, "old"))
        self.new_cert, self.new_key = make_cert(os.path.join(self.tmp, "new"))
        self.cert = os.path.join(self.tmp, "cert.pem")
        self.key = os.path.join(self.tmp, "key.pem")
        shutil.copy(self.old_cert, self.cert)
        shutil.copy(self.old_key, self.key)
        self.server = Running("echo", "serve", "--bind", "127.0.0.1:0",
                              "--tls-cert", self.cert, "--tls-key", self.key)
        self.port = self.server.port("echo")

    def tearDown(self):
        self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def reload(self, pattern):
        before = self.server.count(pattern)
        self.server.proc.send_signal(signal.SIGHUP)
        return self.server.wait_for(pattern, 5, before)

    def served_fingerprint(self):
        """The certificate a new connection gets (read, not verified: the
        two certificates have the same subject)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT) as raw:
            with ctx.wrap_socket(raw) as s:
                return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()

    def test_new_connections_get_the_new_certificate(self):
        shutil.copy(self.new_cert, self.cert)
        shutil.copy(self.new_key, self.key)
        self.reload(r"tls certificate reloaded")
        self.assertEqual(self.served_fingerprint(), fingerprint_of_file(self.new_cert))

    def test_an_open_connection_goes_on_after_a_reload(self):
        with tls_connect(self.port, self.old_cert) as s:
            s.sendall(b"before ")
            first = recv_exactly(s, 7)
            shutil.copy(self.new_cert, self.cert)
            shutil.copy(self.new_key, self.key)
            self.reload(r"tls certificate reloaded")
            s.sendall(b"after")
            self.assertEqual(first + recv_exactly(s, 5), b"before after")

    def test_a_broken_file_keeps_the_old_certificate(self):
        with open(self.cert, "w") as f:
            f.write("not a certificate\n")
        self.reload(r"tls certificate not reloaded")
        self.assertEqual(self.served_fingerprint(), fingerprint_of_file(self.old_cert))

    def test_a_broken_file_is_one_log_line(self):
        shutil.copy(self.new_cert, self.cert)  # the old key no longer matches
        line = self.reload(r"tls certificate not reloaded")
        self.assertRegex(line or "", r"^echo: tls certificate not reloaded: .*key\.pem: this key does not match .*; still serving subject CN=localhost")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reseau", required=True)
    args, rest = parser.parse_known_args()
    RESEAU = os.path.abspath(args.reseau)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
