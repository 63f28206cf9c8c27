"""Differential tests of reseau's pickle reader, with CPython as the oracle.

The course's server answers ``sum(pickle.loads(payload))``. reseau reads the
same payloads without the pickle machine (reseau.sum_request and
reseau.decode_sum_request call the Rust core, as `reseau adder serve` does).
The rule checked here, for every payload:

- where CPython's unpickler makes a list of ints of it, reseau answers the
  same ints and the same sum, or refuses it (reseau is stricter: it refuses
  text ints that are not canonical decimals, bytes after STOP, ...);
- where CPython refuses it, or makes anything but a list of ints, reseau
  refuses it;
- a list of ints that CPython's pickler writes, in any protocol 0 to 5, is
  never refused (each int within 128 bits, as PROTOCOL.md says);
- what reseau's encoder writes is what pickle.dumps(ints, protocol=2)
  writes, and CPython loads it back to the same list.

**Safety: no payload here is ever unpickled without a guard.** Mutated
payloads can hold any opcode, GLOBAL and REDUCE included. The oracle is a
pickle.Unpickler subclass whose find_class (and persistent_load) raises:
GLOBAL, STACK_GLOBAL, INST, OBJ and the EXT opcodes, which fetch every
callable a pickle can call, cannot resolve anything, so REDUCE, NEWOBJ and
BUILD have nothing to run. A payload whose memo index is over reseau's limit
(65,535) is not given to CPython either: CPython sizes its memo table from
the index, which for LONG_BINPUT can be 64 GiB; reseau must refuse those by
its own rule, and that is what is checked for them.

The examples are derandomized (the same every run) and bounded; the run
takes about 30 seconds. Payloads starting with 0xFE are reseau's native
format, not pickles: mutations that start so are not compared.
"""

import io
import os
import pickle
import pickletools
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import reseau
from conftest import read_line, stop

REPO = Path(__file__).resolve().parents[2]
MAX_MEMO_INDEX = 65_535
I128 = 2**127
# The same examples every run, a bounded number of them, no database.
SETTINGS = dict(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class NoGlobalsUnpickler(pickle.Unpickler):
    """CPython's C unpickler (pickle.Unpickler is _pickle.Unpickler) that
    refuses every global and persistent id: nothing can be imported, so
    nothing can be called."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError("global %s.%s refused by the test's oracle" % (module, name))

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent id refused by the test's oracle")


def memo_index_over_limit(payload):
    """Does CPython meet a memo index over the limit before it stops?"""
    try:
        for opcode, arg, _ in pickletools.genops(payload):
            if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT"):
                if not isinstance(arg, int) or arg > MAX_MEMO_INDEX:
                    return True
    except Exception:  # noqa: BLE001 (genops stops where the pickle breaks)
        pass
    return False


def is_int_list(value):
    return type(value) is list and all(type(item) in (int, bool) for item in value)


def cpython(payload):
    """("ints", list) if CPython's unpickler makes a list of ints of the
    payload, ("refused", reason) otherwise."""
    try:
        value = NoGlobalsUnpickler(io.BytesIO(payload)).load()
    except Exception as error:  # noqa: BLE001 (any refusal is one)
        return ("refused", repr(error))
    if is_int_list(value):
        return ("ints", [int(item) for item in value])
    return ("refused", "not a list of ints: %s" % type(value).__name__)


def reseau_reads(payload):
    """("ints", list, sum) if reseau accepts the payload, ("refused", why)."""
    try:
        ints = reseau.decode_sum_request(payload)
    except (reseau.ProtocolError, OverflowError) as error:
        decode_error = error
    else:
        decode_error = None
    try:
        total = reseau.sum_request(payload)
    except OverflowError as error:
        # The sum leaves 128 bits (64 for native): the ints were read, the
        # sum is refused.
        assert decode_error is None, (payload, decode_error)
        bits = 63 if payload[:1] == b"\xfe" else 127
        assert not -(2**bits) <= sum(ints) < 2**bits, (payload, ints)
        return ("refused", repr(error))
    except reseau.ProtocolError as error:
        # Refused by both, for the same reason.
        assert str(error) == str(decode_error), (payload, error, decode_error)
        return ("refused", repr(error))
    assert decode_error is None, (payload, decode_error)
    assert total == sum(ints)
    return ("ints", list(ints), total)


def check_against_cpython(payload):
    """The rule of this module for one payload; returns what reseau did."""
    ours = reseau_reads(payload)
    if payload[:1] == b"\xfe":
        return ours  # reseau's native format
    if memo_index_over_limit(payload):
        assert ours[0] == "refused", payload
        return ours
    theirs = cpython(payload)
    if theirs[0] == "refused":
        assert ours[0] == "refused", (payload, theirs, ours)
    elif ours[0] == "ints":
        assert ours[1] == theirs[1], payload
        assert ours[2] == sum(theirs[1]), payload
    return ours


ints_128 = st.integers(min_value=-(I128 - 1), max_value=I128 - 1)
int_lists = st.lists(
    st.one_of(
        st.integers(min_value=0, max_value=255),
        st.integers(min_value=-(2**31), max_value=2**31),
        st.integers(min_value=-(2**64), max_value=2**64),
        ints_128,
        st.booleans(),
    ),
    max_size=60,
)


@settings(max_examples=150, **SETTINGS)
@given(ints=int_lists)
def test_every_protocol_sums_as_cpython(ints):
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        payload = pickle.dumps(ints, protocol=protocol)
        ours = check_against_cpython(payload)
        # CPython wrote it: reseau must not refuse it.
        assert ours == ("ints", [int(i) for i in ints], sum(ints)), (protocol, payload)


@settings(max_examples=30, **SETTINGS)
@given(n=st.integers(min_value=0, max_value=2500), value=st.integers(min_value=-5, max_value=70_000))
def test_long_lists_in_batches_and_frames(n, value):
    # Over 1000 ints CPython writes several MARK ... APPENDS batches; over
    # 64 KiB, protocol 4 and 5 several FRAMEs.
    ints = [value + i for i in range(n)]
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert reseau.sum_request(pickle.dumps(ints, protocol=protocol)) == sum(ints)


def test_more_than_one_frame():
    ints = list(range(40_000))
    payload = pickle.dumps(ints, protocol=5)
    frames = [op for op, _, _ in pickletools.genops(payload) if op.name == "FRAME"]
    assert len(frames) >= 2
    assert reseau.sum_request(payload) == sum(ints)


def test_ints_beyond_128_bits_are_refused():
    # CPython's pickle carries them; reseau's per-int limit is 128 bits.
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(reseau.PickleError, match="does not fit in 128 bits"):
            reseau.sum_request(pickle.dumps([1, I128], protocol=protocol))


class Point:
    """A class of this module: its pickles name it with a GLOBAL."""

    def __init__(self, x):
        self.x = x


others = st.one_of(
    st.none(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.integers(),
    st.booleans(),
    st.tuples(st.integers()),
    st.lists(st.integers(), max_size=3).map(tuple),
    st.dictionaries(st.integers(), st.integers(), max_size=3),
    st.sets(st.integers(), max_size=3),
    st.frozensets(st.integers(), max_size=3),
    st.lists(st.lists(st.integers(), max_size=3), min_size=1, max_size=3),
    st.lists(st.one_of(st.floats(allow_nan=False), st.text(max_size=3), st.none()), min_size=1, max_size=3),
    st.builds(Point, st.integers()),
    st.builds(bytearray, st.binary(max_size=4)),
)


@settings(max_examples=150, **SETTINGS)
@given(value=others)
def test_anything_but_a_list_of_ints_is_refused(value):
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        payload = pickle.dumps(value, protocol=protocol)
        assert reseau_reads(payload)[0] == "refused", (value, protocol, payload)


@settings(max_examples=150, **SETTINGS)
@given(ints=st.lists(ints_128, max_size=60))
def test_the_encoder_writes_what_cpython_writes(ints):
    frame = reseau.encode_sum_request(ints)
    (length,) = struct.unpack("<I", frame[:4])
    payload = frame[4:]
    assert length == len(payload)
    assert payload == pickle.dumps(ints, protocol=2)
    assert NoGlobalsUnpickler(io.BytesIO(payload)).load() == ints


def opcode_positions(payload):
    try:
        return [pos for _, _, pos in pickletools.genops(payload)]
    except Exception:  # noqa: BLE001
        return []


# Every opcode byte of protocols 0 to 5, to swap one for another.
OPCODES = sorted({ord(op.code) if len(op.code) == 1 else op.code[0] for op in pickletools.opcodes})


@st.composite
def mutated_pickles(draw):
    ints = draw(st.lists(st.integers(min_value=-(2**70), max_value=2**70), max_size=12))
    payload = bytearray(pickle.dumps(ints, protocol=draw(st.integers(0, pickle.HIGHEST_PROTOCOL))))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "swap", "duplicate"]))
        if not payload:
            break
        at = draw(st.integers(0, len(payload) - 1))
        if kind == "flip":
            payload[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del payload[at:]
        elif kind == "insert":
            payload.insert(at, draw(st.sampled_from(OPCODES + list(b"0123456789-+ L\nx"))))
        elif kind == "delete":
            del payload[at]
        elif kind == "duplicate":
            end = draw(st.integers(at, len(payload)))
            payload[at:at] = payload[at:end]
        else:
            positions = opcode_positions(bytes(payload)) or [at]
            payload[draw(st.sampled_from(positions))] = draw(st.sampled_from(OPCODES))
    return bytes(payload)


@settings(max_examples=1500, **SETTINGS)
@given(payload=mutated_pickles())
def test_mutated_pickles(payload):
    check_against_cpython(payload)


@settings(max_examples=300, **SETTINGS)
@given(payload=st.binary(max_size=40))
def test_random_bytes(payload):
    check_against_cpython(payload)


# Hand-written protocol-0 and -1 text ints: what CPython makes of each,
# and whether reseau takes it (only canonical decimals, and I00/I01).
TEXT_INTS = [
    (b"I5\n", 5, True),
    (b"I-7\n", -7, True),
    (b"I0\n", 0, True),
    (b"I00\n", False, True),
    (b"I01\n", True, True),
    (b"I010\n", 8, False),  # strtol base 0: octal
    (b"I08\n", None, False),
    (b"I0x10\n", 16, False),
    (b"I+5\n", 5, False),
    (b"I 5\n", 5, False),
    (b"I1_000\n", 1000, False),
    (b"I-0\n", False, False),
    (b"I5\r\n", 5, False),
    (b"I\n", None, False),
    (b"I99999999999999999999\n", 99999999999999999999, True),
    (b"L5L\n", 5, True),
    (b"L5\n", 5, True),
    (b"L-12L\n", -12, True),
    (b"L0L\n", 0, True),
    (b"L00L\n", 0, False),
    (b"L010L\n", None, False),
    (b"L01L\n", None, False),
    (b"L0o17L\n", 15, False),
    (b"L-0L\n", 0, False),
    (b"L5LL\n", None, False),
]


@pytest.mark.parametrize("text, value, accepted", TEXT_INTS, ids=[t[0].decode().strip() for t in TEXT_INTS])
def test_text_ints(text, value, accepted):
    payload = b"(l" + text + b"a."
    theirs = cpython(payload)
    if value is None:
        assert theirs[0] == "refused", theirs
    else:
        assert theirs == ("ints", [value]), theirs
    ours = check_against_cpython(payload)
    if accepted:
        assert ours == ("ints", [int(value)], int(value))
    else:
        assert ours[0] == "refused"


def test_a_frame_past_the_end_is_refused_by_both():
    payload = bytearray(pickle.dumps([1], protocol=4))
    payload[3] += 1  # the FRAME's length, one past STOP
    assert cpython(bytes(payload))[0] == "refused"
    with pytest.raises(reseau.PickleError, match="FRAME announces more bytes than the payload has"):
        reseau.sum_request(bytes(payload))


def test_the_guard_refuses_globals():
    # What a course server would run: the guard must stop it here.
    exploit = b"cos\nsystem\n(S'echo pwned'\ntR."
    assert cpython(exploit)[0] == "refused"
    with pytest.raises(reseau.PickleError, match="GLOBAL"):
        reseau.sum_request(exploit)


# Through a real `reseau adder serve`, as the course's client talks to it.


@pytest.fixture(scope="module")
def adder_server():
    # python/run_tests.sh builds the binary before it takes cargo off PATH
    # (the tests run on the wheel, without a Rust toolchain) and names it.
    binary = os.environ.get("RESEAU_BIN")
    if binary is None:
        subprocess.run(
            ["cargo", "build", "--release", "--quiet", "-p", "reseau-host", "--bin", "reseau"],
            cwd=REPO,
            check=True,
            timeout=900,
        )
        binary = str(REPO / "target" / "release" / "reseau")
    proc = subprocess.Popen(
        [binary, "adder", "serve", "--bind", "127.0.0.1:0"],
        # The server logs on stderr: read as one stream with stdout.
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = ""
        for _ in range(20):
            line = read_line(proc)
            if "listening on" in line:
                break
        host, _, port = line.strip().rpartition(" ")[2].rpartition(":")
        # A log line per connection: read them all, or the pipe fills up
        # and the server blocks on its log.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield host, int(port)
    finally:
        stop(proc)


def course_request(address, payload):
    """The course's client: one connection, the framed payload, a 4-byte
    reply; None if the server closes without one."""
    with socket.create_connection(address, timeout=10) as s:
        s.sendall(struct.pack("I", len(payload)) + payload)
        reply = b""
        while len(reply) < 4:
            try:
                chunk = s.recv(4 - len(reply))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            reply += chunk
        return struct.unpack("I", reply)[0]


@settings(max_examples=60, **SETTINGS)
@given(
    payload=st.one_of(
        st.lists(st.integers(min_value=0, max_value=70_000), max_size=30).flatmap(
            lambda ints: st.integers(0, pickle.HIGHEST_PROTOCOL).map(lambda p: pickle.dumps(ints, protocol=p))
        ),
        mutated_pickles(),
    )
)
def test_through_a_real_server(adder_server, payload):
    assume(payload[:1] != b"\xfe")  # reseau's native format: a framed reply
    ours = check_against_cpython(payload)
    answered = course_request(adder_server, payload)
    if ours[0] == "ints" and 0 <= ours[2] < 2**32:
        assert answered == ours[2], payload
    else:
        assert answered is None, (payload, ours)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
