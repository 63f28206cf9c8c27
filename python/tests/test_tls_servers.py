"""tls_cert= and tls_key= on AdderServer, EchoServer and WebServer: the
course's clients in ssl.create_default_context(cafile=...) are answered;
bad files raise one clear exception."""

import pickle
import socket
import ssl
import struct
import subprocess
import urllib.request
from pathlib import Path

import pytest

import reseau

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    subprocess.run(
        [str(ROOT / "target/release/reseau"), "cert", "--host", "localhost", "--out", str(folder)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return folder / "cert.pem", folder / "key.pem"


def tls_socket(port, cert):
    ctx = ssl.create_default_context(cafile=str(cert))
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def test_adder_server_over_tls(pki):
    cert, key = pki
    with reseau.AdderServer(port=0, tls_cert=cert, tls_key=key) as server:
        with tls_socket(server.address[1], cert) as s:
            data = pickle.dumps([20, 22])
            s.sendall(struct.pack("I", len(data)) + data)
            assert struct.unpack("I", s.recv(4))[0] == 42


def test_echo_server_over_tls(pki):
    cert, key = pki
    with reseau.EchoServer(port=0, tls_cert=cert, tls_key=key) as server:
        with tls_socket(server.address[1], cert) as s:
            s.sendall(b"hi")
            assert s.recv(2) == b"hi"


def test_web_server_over_https(pki, tmp_path):
    cert, key = pki
    with reseau.WebServer(port=0, db=tmp_path / "site.db", tls_cert=cert, tls_key=key) as server:
        ctx = ssl.create_default_context(cafile=str(cert))
        url = f"https://localhost:{server.address[1]}/"
        with urllib.request.urlopen(url, context=ctx, timeout=10) as response:
            assert response.status == 200


def test_tls_cert_without_tls_key_is_a_value_error(pki):
    with pytest.raises(ValueError, match="tls_cert and tls_key go together"):
        reseau.EchoServer(port=0, tls_cert=pki[0])


def test_a_missing_certificate_is_file_not_found(pki, tmp_path):
    with pytest.raises(FileNotFoundError, match="cannot read"):
        reseau.EchoServer(port=0, tls_cert=tmp_path / "none.pem", tls_key=pki[1])


def test_a_key_in_place_of_a_certificate_is_a_value_error(pki):
    with pytest.raises(ValueError, match="no PEM certificate"):
        reseau.AdderServer(port=0, tls_cert=pki[1], tls_key=pki[1])
