"""The course's programs rewritten with reseau (examples/course/) run, talk
to each other, and talk to the course-style peers of tests/peers/."""

import socket
import subprocess
import sys

from conftest import EXAMPLES, PEERS, WAIT, read_line

COURSE = EXAMPLES / "course"


def run(program, *args, input=None):
    return subprocess.run([sys.executable, str(program), *args], input=input,
                          capture_output=True, text=True, timeout=WAIT * 2)


def test_every_example_has_a_docstring_that_says_what_changed():
    programs = sorted(COURSE.glob("*.py"))
    assert {p.name for p in programs} >= {"adder_client.py", "adder_server.py", "echo_client.py",
                                          "echo_server.py", "chat.py"}
    for program in programs:
        text = program.read_text()
        assert text.startswith('#!/usr/bin/env python3\n"""'), program
        assert "What changed from the course" in text, program
        assert "import reseau" in text, program


def test_example_adder_client_and_server(course_peer):
    _, (host, port) = course_peer(str(COURSE / "adder_server.py"))
    result = run(COURSE / "adder_client.py", "--host", host, "--port", str(port), "1", "2", "3")
    assert (result.returncode, result.stdout) == (0, "6\n"), result.stderr
    result = run(COURSE / "adder_client.py", "--port", str(port), "-3", "10")
    assert (result.returncode, result.stdout) == (0, "7\n"), result.stderr


def test_example_adder_server_with_the_course_client(course_peer):
    _, (host, port) = course_peer(str(COURSE / "adder_server.py"))
    result = run(PEERS / "adder_client.py", "--host", host, "--port", str(port), "40", "2")
    assert (result.returncode, result.stdout) == (0, "42\n"), result.stderr


def test_example_adder_client_with_the_course_server(course_peer):
    _, (host, port) = course_peer("adder_server.py")
    result = run(COURSE / "adder_client.py", "--host", host, "--port", str(port), "5", "6", "7")
    assert (result.returncode, result.stdout) == (0, "18\n"), result.stderr


def test_example_adder_client_without_server_says_so():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run(COURSE / "adder_client.py", "--port", str(port), "1")
    assert result.returncode == 2
    assert "connexion impossible" in result.stderr


def test_example_echo_client_and_server(course_peer):
    _, (host, port) = course_peer(str(COURSE / "echo_server.py"))
    result = run(COURSE / "echo_client.py", "--host", host, "--port", str(port), "Hello", "World!")
    assert (result.returncode, result.stdout) == (0, "Hello World!\n"), result.stderr


def test_example_echo_server_with_the_course_client(course_peer):
    _, (host, port) = course_peer(str(COURSE / "echo_server.py"))
    result = run(PEERS / "echo_client.py", "--host", host, "--port", str(port), "--read", "Bonjour")
    assert (result.returncode, result.stdout) == (0, "Bonjour\n"), result.stderr


def test_example_chat_with_a_plain_socket_peer(course_peer):
    proc, (host, port) = course_peer(str(COURSE / "chat.py"))
    with socket.socket(type=socket.SOCK_DGRAM) as peer:
        peer.settimeout(WAIT)
        peer.bind(("127.0.0.1", 0))
        proc.stdin.write("/join 127.0.0.1 %d\n/send Bonjour !\n" % peer.getsockname()[1])
        proc.stdin.flush()
        data, address = peer.recvfrom(1024)
        assert (data, address) == ("Bonjour !".encode(), (host, port))
        peer.sendto("Salut !".encode(), (host, port))
        assert read_line(proc).rstrip("\n").endswith("Salut !")
        proc.stdin.write("/join 127.0.0.1 0\n/nope\n/exit\n")
        proc.stdin.flush()
        out, _ = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0
    lines = out.splitlines()
    assert len(lines) == 2 and "65535" in lines[0] and "nope" in lines[1], out


def test_example_chat_with_the_course_chat(course_peer):
    ours, (_, our_port) = course_peer(str(COURSE / "chat.py"))
    theirs, (_, their_port) = course_peer("chat.py")
    ours.stdin.write("/join 127.0.0.1 %d\n/send from reseau\n" % their_port)
    ours.stdin.flush()
    assert read_line(theirs) == "RECV from reseau\n"
    theirs.stdin.write("/join 127.0.0.1 %d\n/send from the course\n" % our_port)
    theirs.stdin.flush()
    assert read_line(ours).rstrip("\n").endswith("from the course")
    for proc in (ours, theirs):
        proc.stdin.close()  # end of stdin: both leave
        proc.wait(WAIT)
        assert proc.returncode == 0
