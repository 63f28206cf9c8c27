"""TLS on the clients: `reseau.sum(..., tls=True, ca=...)` and
`reseau.EchoClient(..., tls=True, ca=...)` against course-style servers
wrapped in Python's own `ssl` (`SSLContext.wrap_socket`), with a
certificate made by `openssl req -x509` in a temporary folder. A
certificate that fails a check raises `ssl.SSLCertVerificationError`, as
the course's `ssl.create_default_context(cafile=...)` clients see it.
"""

import pickle
import shutil
import socket
import ssl
import struct
import subprocess
import threading

import pytest

import reseau
from conftest import WAIT

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def make_cert(folder, name, san):
    """A self-signed server certificate (not a CA) and its key."""
    cert, key = folder / (name + ".pem"), folder / (name + "-key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=" + name, "-addext", "subjectAltName=" + san,
         "-addext", "basicConstraints=critical,CA:FALSE", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=WAIT)
    return cert, key


def recv_exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def adder(conn):
    """The course's adder server, for one client."""
    (length,) = struct.unpack("I", recv_exactly(conn, 4))
    ints = pickle.loads(recv_exactly(conn, length))
    conn.sendall(struct.pack("I", sum(ints)))


def echo(conn):
    """The course's echo server, for one client: all it gets, back."""
    while True:
        data = conn.recv(4096)
        if not data:
            break
        conn.sendall(data)


class TlsServer:
    """A course-style server in a thread, over ssl.SSLContext.wrap_socket;
    it serves one client at a time until stopped."""

    def __init__(self, cert, key, handler):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping.is_set():
            try:
                raw, _ = self.sock.accept()
            except OSError:
                continue
            raw.settimeout(WAIT)
            try:
                with self.context.wrap_socket(raw, server_side=True) as conn:
                    self.handler(conn)
            except OSError:
                pass  # a client that refused our certificate

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(WAIT)
        self.sock.close()


@pytest.fixture
def certs(tmp_path):
    server = make_cert(tmp_path, "localhost", "DNS:localhost,IP:127.0.0.1")
    other = make_cert(tmp_path, "other", "DNS:other")
    return server, other


def test_sum_over_tls_with_a_ca(certs):
    (cert, key), _ = certs
    with TlsServer(cert, key, adder) as server:
        assert reseau.sum([1, 2, 3], port=server.port, tls=True, ca=cert) == 6


def test_echo_client_over_tls_with_a_ca_alone(certs):
    """A ca implies tls."""
    (cert, key), _ = certs
    with TlsServer(cert, key, echo) as server:
        client = reseau.EchoClient(port=server.port, ca=str(cert))
        assert client.run(b"Hello TLS!") == b"Hello TLS!"


def test_sum_with_the_wrong_ca_raises_cert_verification_error(certs):
    (cert, key), (other, _) = certs
    with TlsServer(cert, key, adder) as server:
        with pytest.raises(ssl.SSLCertVerificationError, match="unknown issuer"):
            reseau.sum([1, 2, 3], port=server.port, ca=other)


def test_echo_client_checks_the_host_name(certs):
    """A trusted certificate for "other" does not do for 127.0.0.1."""
    _, (other, other_key) = certs
    with TlsServer(other, other_key, echo) as server:
        client = reseau.EchoClient(host="127.0.0.1", port=server.port, ca=other)
        with pytest.raises(ssl.SSLCertVerificationError, match="name mismatch"):
            client.run(b"hello")


def test_a_missing_ca_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        reseau.EchoClient(ca=tmp_path / "missing.pem")
