"""The UDP chat (application chat): `reseau.Chat` binds at construction and
talks to the course's peers, which use a plain SOCK_DGRAM socket with
sendto and recvfrom(1024); `join`, `send`, `receive` and `close` are the
notebook's face, `run()` the course's loop over stdin.
"""

import inspect
import os
import socket
import subprocess
import sys

import pytest

import reseau
from conftest import WAIT, read_line, stop


@pytest.fixture
def plain_peer():
    """A course-style peer: a UDP socket bound on 127.0.0.1."""
    s = socket.socket(type=socket.SOCK_DGRAM)
    s.settimeout(WAIT)
    s.bind(("127.0.0.1", 0))
    yield s
    s.close()


@pytest.fixture
def chat():
    c = reseau.Chat(host="127.0.0.1", port=0)
    yield c
    c.close()


def test_chat_binds_at_construction(chat):
    host, port = chat.address
    assert host == "127.0.0.1" and 0 < port < 65536
    # The port is taken: a second socket cannot bind it.
    with socket.socket(type=socket.SOCK_DGRAM) as other:
        with pytest.raises(OSError):
            other.bind(chat.address)


def test_chat_default_address_is_the_course_one():
    params = inspect.signature(reseau.Chat).parameters
    assert params["host"].default == "127.0.0.1"
    assert params["port"].default == 5000


def test_chat_sends_to_a_plain_socket_peer(chat, plain_peer):
    chat.join(*plain_peer.getsockname())
    chat.send("Bonjour !")
    data, address = plain_peer.recvfrom(1024)
    assert data.decode() == "Bonjour !"
    assert address == chat.address


def test_chat_receives_from_a_plain_socket_peer(chat, plain_peer):
    message = "Hello World!".encode()
    totalsent = 0
    while totalsent < len(message):
        sent = plain_peer.sendto(message[totalsent:], chat.address)
        totalsent += sent
    assert chat.receive(timeout=WAIT) == ("Hello World!", plain_peer.getsockname())


def test_chat_text_is_utf8_both_ways(chat, plain_peer):
    chat.join(*plain_peer.getsockname())
    chat.send("où ça ? ✓")
    assert plain_peer.recvfrom(1024)[0] == "où ça ? ✓".encode("utf-8")
    plain_peer.sendto("déjà vu".encode("utf-8"), chat.address)
    text, _ = chat.receive(timeout=WAIT)
    assert text == "déjà vu"


def test_two_chats_talk_to_each_other(chat):
    other = reseau.Chat(host="127.0.0.1", port=0)
    try:
        chat.join(*other.address)
        other.join(*chat.address)
        chat.send("ping")
        assert other.receive(timeout=WAIT) == ("ping", chat.address)
        other.send("pong")
        assert chat.receive(timeout=WAIT) == ("pong", other.address)
    finally:
        other.close()


def test_receive_returns_none_when_nothing_arrives(chat):
    assert chat.receive(timeout=0.2) is None


def test_receive_keeps_messages_in_order(chat, plain_peer):
    for i in range(5):
        plain_peer.sendto(b"message %d" % i, chat.address)
    got = [chat.receive(timeout=WAIT)[0] for _ in range(5)]
    assert got == ["message %d" % i for i in range(5)]


def test_join_by_host_name(chat, plain_peer):
    chat.join("localhost", plain_peer.getsockname()[1])
    chat.send("by name")
    assert plain_peer.recvfrom(1024)[0] == b"by name"


def test_send_before_join_is_refused(chat):
    with pytest.raises(reseau.CommandError):
        chat.send("nobody to send to")


def test_quit_forgets_the_peer(chat, plain_peer):
    assert chat.peer is None
    chat.join(*plain_peer.getsockname())
    assert chat.peer == plain_peer.getsockname()
    chat.quit()
    assert chat.peer is None
    with pytest.raises(reseau.CommandError):
        chat.send("after /quit")


def test_a_text_too_long_for_one_datagram_is_refused(chat, plain_peer):
    chat.join(*plain_peer.getsockname())
    with pytest.raises(reseau.CommandError):
        chat.send("x" * 65508)


def test_a_closed_chat_refuses_to_send(plain_peer):
    c = reseau.Chat(host="127.0.0.1", port=0)
    c.join(*plain_peer.getsockname())
    c.close()
    c.close()  # idempotent
    with pytest.raises(OSError):
        c.send("too late")


def test_with_block_closes_the_chat():
    with reseau.Chat(host="127.0.0.1", port=0) as c:
        address = c.address
    with socket.socket(type=socket.SOCK_DGRAM) as s:
        s.bind(address)


@pytest.mark.parametrize("bad", [-1, 65536])
def test_join_refuses_a_port_out_of_range(chat, bad):
    # Not a u16: refused by the conversion, before the chat's rules.
    with pytest.raises(OverflowError):
        chat.join("127.0.0.1", bad)


def test_join_refuses_port_0(chat):
    # A u16, but the chat's rule (core's chat::join_port) refuses it.
    with pytest.raises(reseau.CommandError):
        chat.join("127.0.0.1", 0)


def test_wrong_types_are_refused(chat):
    with pytest.raises(TypeError):
        chat.join("127.0.0.1", "5000")
    chat.join("127.0.0.1", 5000)
    with pytest.raises(TypeError):
        chat.send(b"bytes, not str")
    with pytest.raises(TypeError):
        chat.receive(timeout="1")


def test_receive_timeouts_out_of_range():
    """Negative or NaN timeouts are refused; a timeout too long for the
    clock waits like None (here: until a datagram comes), no panic."""
    c = reseau.Chat(host="127.0.0.1", port=0)
    try:
        for bad in (-1.0, float("-inf"), float("nan")):
            with pytest.raises(ValueError):
                c.receive(timeout=bad)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            for huge in (1e20, float("inf")):
                peer.sendto(b"hi", c.address)
                assert c.receive(timeout=huge) == ("hi", ("127.0.0.1", peer.getsockname()[1]))
    finally:
        c.close()


def test_close_frees_the_port():
    c = reseau.Chat(host="127.0.0.1", port=0)
    address = c.address
    c.close()
    with socket.socket(type=socket.SOCK_DGRAM) as s:
        s.bind(address)


RUN_CHAT = """
import reseau
chat = reseau.Chat(host="127.0.0.1", port=0)
print(chat.address[1], flush=True)
chat.run()
print("run() returned", flush=True)
"""


def test_run_reads_commands_from_stdin_and_prints_what_arrives(plain_peer):
    proc = subprocess.Popen([sys.executable, "-c", RUN_CHAT], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        port = int(read_line(proc))
        peer_host, peer_port = plain_peer.getsockname()
        proc.stdin.write("/join %s %d\n/send Bonjour depuis run()\n" % (peer_host, peer_port))
        proc.stdin.flush()
        data, address = plain_peer.recvfrom(1024)
        assert data == "Bonjour depuis run()".encode()
        assert address == ("127.0.0.1", port)
        plain_peer.sendto("Salut !".encode(), ("127.0.0.1", port))
        line = read_line(proc)
        while "Salut !" not in line:
            line = read_line(proc)
        proc.stdin.write("/exit\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
        assert "run() returned" in out
    finally:
        stop(proc)


def test_run_stops_at_the_end_of_stdin():
    result = subprocess.run([sys.executable, "-c", RUN_CHAT], input="", capture_output=True,
                            text=True, timeout=WAIT * 2)
    assert result.returncode == 0, result.stderr
    assert "run() returned" in result.stdout
