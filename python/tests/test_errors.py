"""The exceptions of `reseau`: protocol mistakes are `ValueError`s
(`reseau.ProtocolError` and its subclasses), network failures are
`OSError`s, as the course's `except OSError` expects.
"""

import socket

import pytest

import reseau


def test_protocol_error_is_a_value_error():
    assert issubclass(reseau.ProtocolError, ValueError)


@pytest.mark.parametrize("name", ["FrameTooLarge", "CommandError", "MalformedRequest",
                                  "PickleError", "SumRefused"])
def test_specific_errors_are_protocol_errors(name):
    cls = getattr(reseau, name)
    assert issubclass(cls, reseau.ProtocolError)
    assert issubclass(cls, ValueError)
    assert not issubclass(cls, OSError)


def test_a_refused_pickle_is_a_malformed_request():
    assert issubclass(reseau.PickleError, reseau.MalformedRequest)


def test_errors_can_be_raised_and_caught_by_users():
    with pytest.raises(reseau.ProtocolError, match="mine"):
        raise reseau.FrameTooLarge("mine")


def closed_port():
    """A port on 127.0.0.1 that nobody listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sum_to_a_closed_port_raises_connection_refused():
    with pytest.raises(ConnectionRefusedError):
        reseau.sum([1, 2, 3], port=closed_port())


def test_echo_client_to_a_closed_port_raises_connection_refused():
    with pytest.raises(ConnectionRefusedError):
        reseau.EchoClient("127.0.0.1", closed_port()).run("Hello World!")


def test_the_course_except_oserror_catches_a_refused_connection():
    caught = False
    try:
        reseau.sum([1], port=closed_port())
    except OSError:  # as the course writes it
        caught = True
    assert caught


def test_binding_a_port_in_use_raises_os_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            reseau.AdderServer(port=port).start()

