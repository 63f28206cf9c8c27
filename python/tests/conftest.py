"""Shared helpers for the tests of the `reseau` Python module.

Course-style peers (tests/peers/*.py, standard library only) run as
subprocesses on 127.0.0.1 with port 0; each prints `listening on H:P` once
bound, and the fixture reads the real port from that line. Every wait is
bounded, and only the processes started here are stopped.
"""

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PEERS = REPO / "tests" / "peers"
EXAMPLES = REPO / "examples"
# Long enough for a loaded CI machine, short enough that a hang is reported.
WAIT = 10.0

sys.path.insert(0, str(PEERS))


def read_line(proc, timeout=WAIT):
    """One line of proc's stdout, waiting at most timeout s in all.

    It reads the pipe's file descriptor a byte at a time: a buffered
    readline() could take two lines from the pipe, and the second one,
    left in the buffer, would be invisible to the next select(). Since
    proc.stdout's own buffer stays empty, communicate() reads the rest."""
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError("no whole line within %s s (got %r)" % (timeout, line))
        byte = os.read(fd, 1)
        if byte == b"":  # end of output
            break
        line += byte
    return line.decode("utf-8", errors="replace")


def read_listening_line(proc, timeout=WAIT):
    """Reads `listening on H:P` from proc's stdout; returns (H, P)."""
    line = read_line(proc, timeout)
    assert line.startswith("listening on "), line
    host, _, port = line[len("listening on "):].strip().rpartition(":")
    return host, int(port)


def stop(proc):
    """Stops a process this test started, and waits for it (bounded)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(WAIT)


@pytest.fixture
def course_peer():
    """Starts tests/peers/NAME.py --host 127.0.0.1 --port 0 [args] (or the
    program at a full path); returns (process, (host, port)). Stopped at
    the end of the test."""
    started = []

    def start(name, *args):
        proc = subprocess.Popen(
            [sys.executable, str(PEERS / name), "--host", "127.0.0.1", "--port", "0", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        started.append(proc)
        return proc, read_listening_line(proc)

    yield start
    for proc in started:
        stop(proc)
