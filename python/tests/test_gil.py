"""The GIL is released while Rust blocks or works on a large input: another
Python thread keeps running meanwhile.

How it is measured, without any assumption on the machine's speed: a
thread increments a counter in a loop. The baseline is how far it counts
while the main thread sleeps (time.sleep releases the GIL) for as long as
the Rust call took. If the Rust call held the GIL, the counter would stand
still during it; released, it counts about as far as the baseline. The
threshold, a tenth of the baseline, leaves room for a loaded machine.
While it counts, the interpreter's switch interval is 0.5 ms (instead of
5 ms), so that the few counts the thread makes before the main thread
enters the call stay far under the threshold; a control test shows that a
C call that keeps the GIL (builtins.sum over a range) is caught.
"""

import builtins
import os
import signal
import sys
import threading
import time

import reseau


class Counter:
    def __init__(self):
        self.value = 0
        self.running = True
        self.thread = threading.Thread(target=self._count, daemon=True)

    def _count(self):
        while self.running:
            self.value += 1

    def __enter__(self):
        self.interval = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)
        self.thread.start()
        while self.value == 0:  # the thread is running
            time.sleep(0.001)
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join(10)
        sys.setswitchinterval(self.interval)


def counted_during(counter, call):
    """Returns (counts during call(), seconds it took, its result)."""
    before = counter.value
    start = time.monotonic()
    result = call()
    elapsed = time.monotonic() - start
    return counter.value - before, elapsed, result


def baseline(counter, seconds):
    before = counter.value
    time.sleep(seconds)
    return counter.value - before


def thread_ran(counter, call):
    """Returns (whether the thread ran during call(), a message, the result)."""
    during, elapsed, result = counted_during(counter, call)
    base = baseline(counter, elapsed)
    assert base > 0
    message = ("the counting thread counted %d during the call (%.3f s), %d while sleeping as long"
               % (during, elapsed, base))
    return during > base / 10, message, result


def assert_thread_ran(counter, call):
    ran, message, result = thread_ran(counter, call)
    assert ran, message
    return result


def test_the_measure_catches_a_call_that_keeps_the_gil():
    """The control: builtins.sum over a range is C code that never lets
    the GIL go; the counting thread stands still during it."""
    with Counter() as counter:
        ran, message, result = thread_ran(counter, lambda: builtins.sum(range(10_000_000)))
    assert result == 49999995000000
    assert not ran, message


def test_gil_released_while_chat_receive_waits():
    chat = reseau.Chat(host="127.0.0.1", port=0)
    try:
        with Counter() as counter:
            assert assert_thread_ran(counter, lambda: chat.receive(timeout=1)) is None
    finally:
        chat.close()


def test_gil_released_while_sum_request_sums_a_large_request():
    # A hand-made protocol 2 pickle: ] MARK then 20 million BININT1 1 then
    # APPENDS STOP. The sum is the count; no Python list is ever built.
    n = 20_000_000
    payload = b"\x80\x02](" + b"K\x01" * n + b"e."
    with Counter() as counter:
        assert assert_thread_ran(counter, lambda: reseau.sum_request(payload)) == n


def test_gil_released_while_a_server_runs_in_the_background():
    """The notebook's case: a started server answers from its own threads
    while the main thread goes on running Python (here, a course-style
    client). What it shows is that start() returns and serves in the
    background; the counting tests above are the ones that prove the GIL
    is released."""
    import socket
    import struct

    with reseau.AdderServer(port=0) as server:
        answers = 0
        for n in range(50):
            with socket.create_connection(server.address, timeout=10) as s:
                s.sendall(reseau.encode_sum_request(range(n)))
                reply = b""
                while len(reply) < 4:
                    chunk = s.recv(4 - len(reply))
                    assert chunk
                    reply += chunk
                answers += struct.unpack("I", reply)[0] == sum(range(n))
        assert answers == 50


def test_gil_released_while_run_blocks():
    """A Python thread keeps counting while AdderServer.run() blocks the
    main thread; a SIGINT (what Ctrl-C sends) ends run() with
    KeyboardInterrupt."""
    server = reseau.AdderServer(port=0)
    interrupted = []

    def run():
        try:
            server.run()
        except KeyboardInterrupt:
            interrupted.append(True)

    with Counter() as counter:
        ctrl_c = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
        ctrl_c.start()
        try:
            assert_thread_ran(counter, run)
        finally:
            ctrl_c.cancel()
            server.stop()
    assert interrupted == [True]
