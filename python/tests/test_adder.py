"""The integer adder (additionneur d'entiers): `reseau.AdderServer` and
`reseau.sum`, with each other and with the course's own programs, which
speak struct.pack('I', len(msg)) + pickle.dumps(list) over a plain socket
and read the sum back with struct.unpack('I', ...).
"""

import pickle
import socket
import struct
import subprocess
import sys

import pytest

import hostile  # tests/peers/hostile.py
from adder_lists import AdderClient  # tests/peers/adder_lists.py: the course's client
import reseau
from conftest import PEERS, WAIT


def course_sum(data, address):
    """One request, as the course's client makes it (the default pickle
    protocol), on a connection of its own."""
    client = AdderClient(*address[:2])
    try:
        return client.compute(data, None)
    finally:
        client.close()


# --- the server's life: run, start, stop, with ------------------------------

def test_address_is_the_bound_host_and_ephemeral_port():
    server = reseau.AdderServer(host="127.0.0.1", port=0)
    try:
        host, port = server.address
        assert host == "127.0.0.1"
        assert isinstance(port, int) and 0 < port < 65536
    finally:
        server.stop()


@pytest.mark.parametrize("threads", [1, 4])
def test_threads_sets_the_event_loops_and_every_loop_answers(threads):
    # 4 loops on any machine: 16 course-style connections, one request
    # each, spread over every loop; each gets its own sum.
    with reseau.AdderServer(port=0, threads=threads) as server:
        for n in range(16):
            assert course_sum(list(range(n)), server.address) == sum(range(n))


def test_threads_over_the_limit_is_a_value_error():
    with pytest.raises(ValueError, match="threads must be from 0 .* to 1024, got 1025"):
        reseau.AdderServer(port=0, threads=1025)


def test_with_block_starts_and_stops_the_server():
    with reseau.AdderServer(port=0) as server:
        address = server.address
        assert course_sum([1, 2, 3], address) == 6
    with pytest.raises(ConnectionRefusedError):
        course_sum([1], address)


def test_start_and_stop_in_the_background():
    server = reseau.AdderServer(port=0)
    server.start()
    try:
        assert course_sum([40, 2], server.address) == 42
    finally:
        server.stop()
    with pytest.raises(ConnectionRefusedError):
        course_sum([1], server.address)


def test_running_says_whether_the_server_serves():
    server = reseau.AdderServer(port=0)
    assert not server.running
    server.start()
    assert server.running
    server.stop()
    assert not server.running


def test_a_stopped_server_does_not_start_again():
    server = reseau.AdderServer(port=0)
    server.start()
    server.stop()
    with pytest.raises(RuntimeError):
        server.start()


def test_stop_twice_is_harmless():
    server = reseau.AdderServer(port=0)
    server.start()
    server.stop()
    server.stop()


def test_default_address_is_the_course_one():
    # Not bound: only the signature's defaults are read.
    import inspect
    params = inspect.signature(reseau.AdderServer).parameters
    assert params["host"].default == "127.0.0.1"
    assert params["port"].default == 6001
    assert params["keep_alive"].default is False


@pytest.mark.parametrize("bad", [-1, 65536, 2**40])
def test_port_out_of_range_is_refused(bad):
    with pytest.raises(OverflowError):
        reseau.AdderServer(port=bad)


@pytest.mark.parametrize("kwargs", [{"port": "6001"}, {"host": 127}, {"port": 1.5}])
def test_wrong_types_are_refused(kwargs):
    with pytest.raises(TypeError):
        reseau.AdderServer(**kwargs)


# --- reseau.AdderServer with the course's clients ---------------------------

@pytest.mark.parametrize("data", [[], [1, 2, 3], [-3, 10], list(range(90000)), [2**31, 2**31 - 1]])
def test_adder_server_answers_the_course_client(data):
    with reseau.AdderServer(port=0) as server:
        assert course_sum(data, server.address) == sum(data)


def test_adder_server_answers_every_pickle_protocol_and_batch():
    """tests/peers/adder_lists.py: one connection, many lists."""
    with reseau.AdderServer(port=0, keep_alive=True) as server:
        host, port = server.address
        result = subprocess.run(
            [sys.executable, str(PEERS / "adder_lists.py"), "--host", host, "--port", str(port)],
            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == (pickle.HIGHEST_PROTOCOL + 1) * 8


def test_adder_server_replies_then_closes_first_as_the_course_server():
    with reseau.AdderServer(port=0) as server:
        with socket.create_connection(server.address, timeout=WAIT) as s:
            # Two requests at once: only the first is answered.
            s.sendall(reseau.encode_sum_request([1, 2]) + reseau.encode_sum_request([3]))
            received = b''
            while True:
                chunk = s.recv(64)
                if not chunk:
                    break
                received += chunk
    assert received == struct.pack('I', 3)


def test_adder_server_answers_many_requests_on_one_connection_with_keep_alive():
    with reseau.AdderServer(port=0, keep_alive=True) as server:
        with socket.create_connection(server.address, timeout=WAIT) as s:
            for n in range(1, 20):
                s.sendall(reseau.encode_sum_request(range(n)))
                reply = b''
                while len(reply) < 4:
                    chunk = s.recv(4 - len(reply))
                    assert chunk
                    reply += chunk
                assert struct.unpack('I', reply)[0] == sum(range(n))


def test_adder_server_closes_a_hostile_client_and_serves_the_next(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases, _ = hostile.cases("PWNED-by-a-pickle")
    with reseau.AdderServer(port=0) as server:
        for name, data in cases:
            with socket.create_connection(server.address, timeout=WAIT) as s:
                s.sendall(data)
                if name in ("truncated", "over_1000"):
                    s.shutdown(socket.SHUT_WR)  # the server waits for the rest
                # Closed without a sum; the server's lingering close ends
                # with a FIN, never a reset that could hide the end.
                assert s.recv(4) == b'', name
            assert course_sum([1, 2], server.address) == 3
    assert not (tmp_path / "PWNED-by-a-pickle").exists()


def test_course_client_program_against_adder_server():
    with reseau.AdderServer(port=0) as server:
        host, port = server.address
        result = subprocess.run(
            [sys.executable, str(PEERS / "adder_client.py"), "--host", host, "--port", str(port),
             "1", "2", "3"],
            capture_output=True, text=True, timeout=WAIT * 2)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["6"]


# --- reseau.sum -------------------------------------------------------------

def test_sum_against_the_course_server(course_peer):
    _, (host, port) = course_peer("adder_server.py")
    assert reseau.sum([1, 2, 3], host=host, port=port) == 6
    assert reseau.sum(range(90000), host=host, port=port) == sum(range(90000))
    assert reseau.sum([], host=host, port=port) == 0


def test_sum_against_adder_server_in_both_encodings():
    with reseau.AdderServer(port=0) as server:
        host, port = server.address
        assert reseau.sum([1, 2, 3], host=host, port=port) == 6
        assert reseau.sum([1, 2, 3], host=host, port=port, encoding="pickle") == 6
        # Only the native format carries 64-bit sums.
        big = [2**40, 2**40, -5]
        assert reseau.sum(big, host=host, port=port, encoding="native") == sum(big)


def test_sum_streams_any_iterable():
    def ints():
        yield from range(200_000)

    with reseau.AdderServer(port=0) as server:
        host, port = server.address
        assert reseau.sum(ints(), host=host, port=port, encoding="native") == sum(range(200_000))
        assert reseau.sum(iter([5, 6]), host=host, port=port) == 11
        assert reseau.sum((7, 8), host=host, port=port) == 15


def test_sum_of_an_iterable_longer_than_memory_holds_goes_through_a_spool_file(monkeypatch, tmp_path):
    """From 16 MiB of payload on, sum() spools to the temporary directory
    (an unlinked file): a missing directory makes it fail, which shows the
    file is used, and with a directory the sum is right, which shows no
    byte is lost on the way (5,000,000 ints, about 20 MB, in each format)."""

    def pickled():  # sum 2,500,000, inside the course's 4-byte reply
        return (1000 if i % 2 else -999 for i in range(5_000_000))

    def native():
        return iter(range(5_000_000))

    with reseau.AdderServer(port=0) as server:
        host, port = server.address
        monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))
        with pytest.raises(FileNotFoundError, match="spool"):
            reseau.sum(pickled(), host=host, port=port)
        assert reseau.sum(range(1000), host=host, port=port) == 499500  # small: no file
        monkeypatch.setenv("TMPDIR", str(tmp_path))
        assert reseau.sum(pickled(), host=host, port=port) == 2_500_000
        assert reseau.sum(native(), host=host, port=port, encoding="native") == sum(range(5_000_000))
        assert list(tmp_path.iterdir()) == []  # unlinked as soon as made


def test_sum_returns_a_python_int():
    with reseau.AdderServer(port=0) as server:
        assert type(reseau.sum([1], host=server.address[0], port=server.address[1])) is int


def test_sum_out_of_the_course_range_is_an_error_not_a_wrong_answer():
    """The course's 4-byte reply cannot carry -1 or 2**32: the server
    closes without a sum, and reseau.sum says so (SumRefused, a
    ProtocolError)."""
    with reseau.AdderServer(port=0) as server:
        host, port = server.address
        for data in ([-1], [2**31, 2**31]):
            with pytest.raises(reseau.SumRefused):
                reseau.sum(data, host=host, port=port)


def test_native_sum_overflow_is_refused_by_the_server():
    with reseau.AdderServer(port=0) as server:
        host, port = server.address
        with pytest.raises(reseau.SumRefused):
            reseau.sum([2**63 - 1, 1], host=host, port=port, encoding="native")


@pytest.mark.parametrize("bad", [[1, "2"], [1.0], [None], 42])
def test_sum_refuses_what_is_not_ints(bad):
    with reseau.AdderServer(port=0) as server:
        host, port = server.address
        with pytest.raises(TypeError):
            reseau.sum(bad, host=host, port=port)


def test_sum_refuses_an_unknown_encoding():
    with reseau.AdderServer(port=0) as server:
        host, port = server.address
        with pytest.raises(ValueError):
            reseau.sum([1], host=host, port=port, encoding="json")


def test_sum_passes_on_the_iterables_own_error():
    def ints():
        yield 1
        raise RuntimeError("the generator broke")

    with reseau.AdderServer(port=0) as server:
        host, port = server.address
        with pytest.raises(RuntimeError, match="the generator broke"):
            reseau.sum(ints(), host=host, port=port)


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
def test_adder_over_ipv6():
    with reseau.AdderServer(host="::1", port=0) as server:
        host, port = server.address
        assert host == "::1"
        assert reseau.sum([1, 2, 3], host="::1", port=port) == 6
        with socket.create_connection(("::1", port), timeout=WAIT) as s:
            msg = pickle.dumps([4, 5])
            s.sendall(struct.pack('I', len(msg)) + msg)
            assert struct.unpack('I', s.recv(4))[0] == 9
