"""The Rust core of the reseau package; import reseau instead."""

import array
import os
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Literal, Optional, SupportsIndex, Union

from typing_extensions import Self, final

__all__ = [
    "AdderServer",
    "Chat",
    "Command",
    "CommandError",
    "EchoClient",
    "EchoServer",
    "FrameDecoder",
    "FrameTooLarge",
    "MalformedRequest",
    "PickleError",
    "ProtocolError",
    "SumRefused",
    "WebServer",
    "decode_sum_request",
    "decode_sum_request_array",
    "encode_frame",
    "encode_sum_request",
    "explain_rows",
    "parse_command",
    "resolve",
    "sum",
    "sum_request",
]

_Encoding = Literal["pickle", "native"]
_Buffer = Union[bytes, bytearray]
_Path = Union[str, os.PathLike[str]]

class ProtocolError(ValueError):
    """Bytes or a line that break one of the course's protocols (a ValueError)."""

class FrameTooLarge(ProtocolError):
    """A frame header announces more payload than the limit allows."""

class MalformedRequest(ProtocolError):
    """An adder request payload is not a list of ints in either format."""

class PickleError(MalformedRequest):
    """A pickle payload is not a list of ints, or uses a refused opcode."""

class CommandError(ProtocolError):
    """A chat line that is no valid command, or a refused message."""

class SumRefused(ProtocolError):
    """The adder server refused the request."""

def encode_frame(payload: _Buffer, /) -> bytes:
    """A frame: struct.pack('I', len(payload)) + payload."""

@final
class FrameDecoder:
    """Cuts a byte stream into frames (4-byte little-endian length, payload)."""

    def __new__(cls, max_frame: int = 67108864) -> Self: ...
    @property
    def max_frame(self) -> int:
        """The limit on a frame's payload, in bytes."""
    @property
    def is_idle(self) -> bool:
        """True between frames."""
    def feed(self, data: _Buffer) -> list[bytes]:
        """Feeds the next bytes of the stream; returns the completed payloads."""

def encode_sum_request(ints: Iterable[SupportsIndex], encoding: _Encoding = "pickle") -> bytes:
    """A whole adder request frame for ints, in the pickle or native format."""

def decode_sum_request(payload: _Buffer, /) -> list[int]:
    """The ints of a request payload, in either format."""

def decode_sum_request_array(payload: _Buffer, /) -> array.array[int]:
    """The ints of a request payload as an array.array('q'), without int objects."""

def sum_request(payload: _Buffer, /) -> int:
    """The sum of a request payload's ints, computed while parsing."""

@final
class Command:
    """One chat command, as parse_command reads it."""

    @property
    def name(self) -> Literal["exit", "quit", "join", "send", "help"]:
        """The command's name."""
    @property
    def host(self) -> Optional[str]:
        """The peer's host ("join"), else None."""
    @property
    def port(self) -> Optional[int]:
        """The peer's port ("join"), else None."""
    @property
    def text(self) -> Optional[str]:
        """The message ("send"), else None."""
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

def parse_command(line: str, /) -> Command:
    """Parses one line typed in the chat."""

@final
class Chat:
    """A chat peer, as the course's Chat class: a UDP socket bound at construction."""

    def __new__(cls, host: str = "127.0.0.1", port: int = 5000, trace: bool = False) -> Self: ...
    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port)."""
    @property
    def peer(self) -> Optional[tuple[str, int]]:
        """The joined peer's (host, port), or None."""
    @property
    def closed(self) -> bool:
        """True once close() was called."""
    def join(self, host: str, port: int) -> tuple[str, int]:
        """Sends to the peer at host and port from now on."""
    def quit(self) -> None:
        """Forgets the joined peer."""
    def send(self, text: str) -> int:
        """Sends text to the joined peer in one datagram."""
    def receive(self, timeout: Optional[float] = None) -> Optional[tuple[str, tuple[str, int]]]:
        """Waits for one datagram: (text, (host, port)), or None on timeout."""
    def run(self) -> None:
        """The course's Chat.run(): commands from stdin until /exit."""
    def trace_events(self) -> list[dict[str, Any]]:
        """The datagrams traced so far (a chat made with trace=True)."""
    def close(self) -> None:
        """Closes the socket. Idempotent."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        _exc_type: Optional[type[BaseException]],
        _exc_value: Optional[BaseException],
        _traceback: Optional[TracebackType],
    ) -> bool: ...

class _Server:
    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port)."""
    @property
    def running(self) -> bool:
        """True while the server runs."""
    def start(self) -> None:
        """Serves in the background."""
    def stop(self) -> None:
        """Stops the server and waits for its thread. Idempotent."""
    def run(self) -> None:
        """Serves in the foreground; Ctrl-C stops it."""
    def trace_events(self) -> list[dict[str, Any]]:
        """The events traced so far (a server made with trace=True)."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        _exc_type: Optional[type[BaseException]],
        _exc_value: Optional[BaseException],
        _traceback: Optional[TracebackType],
    ) -> bool: ...

@final
class AdderServer(_Server):
    """The course's integer adder server.

    As in the course, a pickle request is its connection's last: the server
    replies, then closes first. keep_alive=True answers several per
    connection. Native requests always share a connection. threads is the
    number of event loops (0: one per core), as --threads. tls_cert and
    tls_key (PEM files, both or neither) serve TLS, as --tls-cert/--tls-key.
    """

    def __new__(
        cls,
        host: str = "127.0.0.1",
        port: int = 6001,
        keep_alive: bool = False,
        threads: int = 0,
        tls_cert: Optional[_Path] = None,
        tls_key: Optional[_Path] = None,
        trace: bool = False,
    ) -> Self: ...

@final
class EchoServer(_Server):
    """The course's echo server; threads is the number of event loops
    (0: one per core); tls_cert and tls_key (both or neither) serve TLS."""

    def __new__(
        cls,
        host: str = "127.0.0.1",
        port: int = 6000,
        threads: int = 0,
        tls_cert: Optional[_Path] = None,
        tls_key: Optional[_Path] = None,
        trace: bool = False,
    ) -> Self: ...

@final
class WebServer(_Server):
    """The course's web site; threads, when given, overrides the config's
    reseau.threads (event loops, 0: one per core); db, a SQLite file path or
    a postgresql:// URL, overrides reseau.db; tls_cert and tls_key (both or
    neither) override its server.ssl_* keys."""

    def __new__(
        cls,
        config: Optional[_Path] = None,
        host: Optional[str] = None,
        port: Optional[int] = None,
        db: Optional[_Path] = None,
        threads: Optional[int] = None,
        tls_cert: Optional[_Path] = None,
        tls_key: Optional[_Path] = None,
    ) -> Self: ...

@final
class EchoClient:
    """The course's echo client."""

    def __new__(
        cls,
        host: str = "127.0.0.1",
        port: int = 6000,
        tls: bool = False,
        ca: Optional[Union[str, os.PathLike[str]]] = None,
    ) -> Self: ...
    @property
    def host(self) -> str:
        """The server's host."""
    @property
    def port(self) -> int:
        """The server's port."""
    @property
    def tls(self) -> bool:
        """True when the client speaks TLS (tls=True or a ca)."""
    def run(self, message: Union[str, bytes, bytearray]) -> bytes:
        """Sends message and returns the echoed bytes."""

def sum(
    ints: Iterable[SupportsIndex],
    host: str = "127.0.0.1",
    port: int = 6001,
    encoding: _Encoding = "pickle",
    tls: bool = False,
    ca: Optional[Union[str, os.PathLike[str]]] = None,
) -> int:
    """Asks the adder server at host:port for the sum of ints."""

def explain_rows(data: _Buffer, reply: bool = False) -> list[dict[str, Any]]:
    """An adder message field by field, then the server's verdicts."""

def resolve(name: str, /) -> dict[str, Any]:
    """The course's four host-name look-ups for name."""
