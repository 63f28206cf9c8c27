"""reseau: the network-programming course's protocols and servers, from Rust.

The course's programs (the integer adder, echo, the UDP chat, the web site)
as a Python package whose work is done by reseau's Rust core: the same
state machines that run the ``reseau`` command and a microcontroller.

Codec (no network):
    encode_frame, FrameDecoder        the adder's 4-byte length-prefixed frames
    encode_sum_request                a whole request frame, pickle or native
    decode_sum_request, sum_request   a request payload's ints, or their sum,
                                      read without running pickle (safe on
                                      untrusted bytes)
    decode_sum_request_array          the ints as an array.array('q'), fast
    parse_command, Command            the chat's commands (/join, /send, ...)

Servers (bind at construction; run() in the foreground, start()/stop() or
``with`` in the background; .address is the bound (host, port)):
    AdderServer, EchoServer, WebServer

Clients:
    EchoClient(host, port, tls=False, ca=None).run(message) -> bytes
    sum(ints, host, port, encoding, tls=False, ca=None) -> int
    (tls=True: TLS, the server's certificate checked against ca, a PEM
    file, or the system's roots; a ca implies tls)
    Chat(host, port): join(), send(), receive(), close(), or run() on stdin

Showing the wire (reseau.show; explain_rows gives the raw dicts):
    explain(data, reply=False) -> Explanation   a message byte by byte, then the
                                                server's verdict (str: a table;
                                                in a notebook: HTML)
    sequence_diagram(events) -> SequenceDiagram a traced exchange (str: text; in a
                                                notebook: SVG); AdderServer,
                                                EchoServer and Chat take trace=True
                                                and give trace_events()
    wait_trace(server, kind="close", count=1, timeout=5.0) -> the events, once there

Host names:
    resolve(name) -> dict             the course's four look-ups (fqdn, hostname,
                                      addresses, reverse), as `reseau resolve`

Errors: ProtocolError (a ValueError) and its subclasses FrameTooLarge,
MalformedRequest, PickleError, CommandError, SumRefused; network failures
are OSError subclasses (ConnectionRefusedError, TimeoutError, ...); a
certificate that fails a check raises ssl.SSLCertVerificationError, another
failed TLS handshake ssl.SSLError, as Python's ssl module does.

The GIL is released while Rust blocks (servers, clients) or works on large
inputs, so other Python threads keep running.
"""

from reseau import _native
from reseau._native import *  # noqa: F403 (the names of _native.__all__, typed in _native.pyi)

# One list of the API: the extension module's (pyo3 keeps it as functions
# and classes are added), which mypy.stubtest checks against _native.pyi.
__all__ = list(_native.__all__)

# Presentation in pure Python (tables and sequence diagrams); its explain()
# shows what _native.explain_rows gives.
from reseau.show import Explanation, SequenceDiagram, explain, sequence_diagram, wait_trace  # noqa: E402

__all__ += ["Explanation", "SequenceDiagram", "explain", "sequence_diagram", "wait_trace"]
