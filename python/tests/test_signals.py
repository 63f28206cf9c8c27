"""`run()` blocks like the course's servers, and Ctrl-C (SIGINT) stops it
with KeyboardInterrupt, within a bounded time, in a separate process."""

import os
import signal
import socket
import subprocess
import sys

import pytest

import reseau
from conftest import WAIT, read_line, stop

SERVE = """
import sys
import reseau
server = reseau.{cls}(host="127.0.0.1", port=0)
print(server.address[1], flush=True)
try:
    server.run()
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
    sys.exit(0)
print("run() returned without KeyboardInterrupt", flush=True)
sys.exit(1)
"""


@pytest.mark.parametrize("cls", ["AdderServer", "EchoServer"])
def test_ctrl_c_stops_run_with_keyboard_interrupt(cls):
    proc = subprocess.Popen([sys.executable, "-c", SERVE.format(cls=cls)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        port = int(read_line(proc))
        # It serves before the signal...
        if cls == "AdderServer":
            assert reseau.sum([1, 2, 3], port=port) == 6
        else:
            assert reseau.EchoClient("127.0.0.1", port).run("hi") == b"hi"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, (out, err)
        assert out.strip() == "KeyboardInterrupt"
    finally:
        stop(proc)
    # ...and the port is free after it.
    with pytest.raises(ConnectionRefusedError):
        reseau.sum([1], port=port)



CLIENT = """
import sys
import reseau
port = int(sys.argv[1])
try:
    reseau.{call}
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
    sys.exit(0)
except OSError as e:  # a timeout of the client's own is fine too
    print("OSError", type(e).__name__, flush=True)
    sys.exit(0)
"""


@pytest.mark.parametrize("call", [
    'sum([1, 2, 3], port=port)',
    'EchoClient("127.0.0.1", port).run("hello")',
])
def test_ctrl_c_interrupts_a_client_waiting_for_a_silent_server(call):
    """A notebook cell that waits for a server that never answers must be
    stoppable: Jupyter's interrupt is a SIGINT. The server here accepts
    and never answers; once it has accepted, the client is inside the
    call, and gets the SIGINT there."""
    with socket.socket() as silent:
        silent.settimeout(WAIT)
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        proc = subprocess.Popen(
            [sys.executable, "-c", CLIENT.format(call=call), str(silent.getsockname()[1])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            conn, _ = silent.accept()
            with conn:
                proc.send_signal(signal.SIGINT)
                try:
                    out, err = proc.communicate(timeout=WAIT)
                except subprocess.TimeoutExpired:
                    pytest.fail("SIGINT did not stop reseau.%s within %s s" % (call, WAIT))
            assert proc.returncode == 0, (out, err)
            assert out.split()[0] in ("KeyboardInterrupt", "OSError"), out
        finally:
            stop(proc)
