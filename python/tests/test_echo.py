"""Echo (serveur echo / client echo): `reseau.EchoServer` sends back every
byte; `reseau.EchoClient(host, port).run(message)` sends a message and
returns what came back. Both work with the course's programs.
"""

import inspect
import socket
import subprocess
import sys

import pytest

import reseau
from conftest import PEERS, WAIT


def course_echo_client(message, address, read=True):
    """tests/peers/echo_client.py, the course's client (with --read it
    half-closes and prints what came back)."""
    host, port = address
    args = [sys.executable, str(PEERS / "echo_client.py"), "--host", host, "--port", str(port)]
    if read:
        args.append("--read")
    return subprocess.run(args, input=message, capture_output=True, timeout=WAIT * 2)


def test_echo_server_sends_back_what_the_course_client_sent():
    with reseau.EchoServer(port=0) as server:
        result = course_echo_client("Hello World!".encode(), server.address)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hello World!\n"


def test_echo_server_with_the_course_client_that_never_reads():
    """The course's client sends and closes without reading; the server
    must go on serving the next client."""
    with reseau.EchoServer(port=0) as server:
        with socket.create_connection(server.address, timeout=WAIT) as s:
            msg = "Bonjour !".encode()
            totalsent = 0
            while totalsent < len(msg):
                sent = s.send(msg[totalsent:])
                totalsent += sent
        assert reseau.EchoClient(*server.address).run("still here") == b"still here"


def test_echo_client_returns_the_echoed_bytes():
    with reseau.EchoServer(port=0) as server:
        client = reseau.EchoClient(*server.address)
        echoed = client.run("Hello World!")
        assert echoed == b"Hello World!"
        assert type(echoed) is bytes


def test_echo_client_sends_str_as_utf8_and_bytes_as_they_are():
    with reseau.EchoServer(port=0) as server:
        assert reseau.EchoClient(*server.address).run("café ✓") == "café ✓".encode("utf-8")
        raw = bytes(range(256))
        assert reseau.EchoClient(*server.address).run(raw) == raw
        assert reseau.EchoClient(*server.address).run(b"") == b""


def test_echo_of_a_large_message_comes_back_whole():
    """Larger than every socket buffer: the client must read while it sends."""
    message = bytes(range(256)) * 16384  # 4 MiB
    with reseau.EchoServer(port=0) as server:
        assert reseau.EchoClient(*server.address).run(message) == message


def test_echo_client_against_the_course_server_that_echoes_nothing(course_peer):
    proc, address = course_peer("echo_server.py", "--max-clients", "1")
    assert reseau.EchoClient(*address).run("Hello World!") == b""
    out, _ = proc.communicate(timeout=WAIT)
    assert out == "Hello World!\n"


def test_echo_server_life_cycle():
    server = reseau.EchoServer(port=0)
    host, port = server.address
    assert host == "127.0.0.1" and 0 < port < 65536
    server.start()
    try:
        assert reseau.EchoClient(host, port).run("a") == b"a"
    finally:
        server.stop()
    with pytest.raises(ConnectionRefusedError):
        reseau.EchoClient(host, port).run("a")


def test_echo_server_default_address_is_the_course_one():
    params = inspect.signature(reseau.EchoServer).parameters
    assert params["host"].default == "127.0.0.1"
    assert params["port"].default == 6000


@pytest.mark.parametrize("bad", [None, 12, ["a"]])
def test_echo_client_run_refuses_what_is_not_str_or_bytes(bad):
    with reseau.EchoServer(port=0) as server:
        with pytest.raises(TypeError):
            reseau.EchoClient(*server.address).run(bad)


@pytest.mark.parametrize("bad", [-1, 65536])
def test_echo_port_out_of_range_is_refused(bad):
    with pytest.raises(OverflowError):
        reseau.EchoServer(port=bad)
    with pytest.raises(OverflowError):
        reseau.EchoClient("127.0.0.1", bad).run("x")
