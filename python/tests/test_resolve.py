"""`reseau.resolve`: the course's host-name look-ups, next to what Python's
socket module says of the same name."""

import socket

import pytest

import reseau


def test_resolve_gives_the_course_s_four_look_ups():
    found = reseau.resolve("localhost")
    assert found["hostname"] == socket.gethostname()
    assert "127.0.0.1" in found["addresses"]
    assert set(found["reverse"]) == set(found["addresses"])
    assert found["fqdn"] == socket.getfqdn("localhost")


def test_resolve_of_an_unknown_name_is_an_oserror():
    with pytest.raises(OSError, match="cannot resolve"):
        reseau.resolve("no-such-host.invalid")
