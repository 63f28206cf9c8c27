"""The codec: frames (struct.pack('I', n) + payload) and the adder's
requests, in the course's pickle format and reseau's native format.

`decode_sum_request` and `sum_request` must be safe on untrusted bytes:
every pickle that is not a plain list of ints is refused with
`reseau.ProtocolError`, and nothing in it is ever run.
"""

import array
import operator
import pickle
import random
import struct

import pytest

import hostile  # tests/peers/hostile.py
import reseau

MAX_FRAME_DEFAULT = 64 * 1024 * 1024


# --- encode_frame -----------------------------------------------------------

@pytest.mark.parametrize("payload", [b"", b"x", b"Hello World!", bytes(range(256)) * 300])
def test_encode_frame_is_struct_length_then_payload(payload):
    assert reseau.encode_frame(payload) == struct.pack("I", len(payload)) + payload


def test_encode_frame_returns_bytes():
    assert type(reseau.encode_frame(b"abc")) is bytes


@pytest.mark.parametrize("bad", ["text", 12, None, [1, 2]])
def test_encode_frame_refuses_what_is_not_bytes(bad):
    with pytest.raises(TypeError):
        reseau.encode_frame(bad)


# --- FrameDecoder -----------------------------------------------------------

def test_frame_decoder_returns_every_complete_payload_in_order():
    decoder = reseau.FrameDecoder()
    data = reseau.encode_frame(b"one") + reseau.encode_frame(b"") + reseau.encode_frame(b"three")
    assert decoder.feed(data) == [b"one", b"", b"three"]


def test_frame_decoder_keeps_a_partial_frame_until_the_rest_arrives():
    decoder = reseau.FrameDecoder()
    data = reseau.encode_frame(b"Hello World!") + reseau.encode_frame(b"bye")
    got = []
    for i in range(len(data)):  # one byte at a time, header included
        got.extend(decoder.feed(data[i:i + 1]))
        if i < 15:
            assert got == []
    assert got == [b"Hello World!", b"bye"]


def test_frame_decoder_payloads_are_bytes():
    payloads = reseau.FrameDecoder().feed(reseau.encode_frame(b"abc"))
    assert [type(p) for p in payloads] == [bytes]


def test_frame_decoder_with_nothing_complete_returns_an_empty_list():
    decoder = reseau.FrameDecoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\x05\x00") == []


def test_frame_decoder_refuses_a_header_over_its_limit():
    decoder = reseau.FrameDecoder(max_frame=10)
    assert decoder.feed(reseau.encode_frame(b"0123456789")) == [b"0123456789"]
    with pytest.raises(reseau.FrameTooLarge):
        decoder.feed(struct.pack("I", 11))


def test_frame_decoder_default_limit_is_64_mib():
    assert reseau.FrameDecoder().feed(struct.pack("I", MAX_FRAME_DEFAULT)) == []
    with pytest.raises(reseau.FrameTooLarge):
        reseau.FrameDecoder().feed(struct.pack("I", MAX_FRAME_DEFAULT + 1))


def test_frame_too_large_is_a_protocol_error_and_a_value_error():
    with pytest.raises(reseau.ProtocolError):
        reseau.FrameDecoder(max_frame=0).feed(struct.pack("I", 1))
    with pytest.raises(ValueError):
        reseau.FrameDecoder(max_frame=0).feed(struct.pack("I", 1))


@pytest.mark.parametrize("bad", ["text", 3, None])
def test_frame_decoder_feed_refuses_what_is_not_bytes(bad):
    with pytest.raises(TypeError):
        reseau.FrameDecoder().feed(bad)


def test_frame_decoder_says_its_limit_and_whether_it_is_between_frames():
    decoder = reseau.FrameDecoder(max_frame=100)
    assert decoder.max_frame == 100
    assert decoder.is_idle
    decoder.feed(b"\x03\x00")
    assert not decoder.is_idle
    assert decoder.feed(b"\x00\x00abc") == [b"abc"]
    assert decoder.is_idle


def test_frame_decoder_max_frame_must_be_an_int():
    with pytest.raises(TypeError):
        reseau.FrameDecoder(max_frame="10")


@pytest.mark.parametrize("bad", [-1, 2**32, 2**64])
def test_frame_decoder_max_frame_out_of_range(bad):
    # A 4-byte header cannot announce more than 2**32 - 1 bytes.
    with pytest.raises(OverflowError):
        reseau.FrameDecoder(max_frame=bad)


# --- encode_sum_request -----------------------------------------------------

LISTS = [
    [],
    [1, 2, 3],
    [0, 255, 256, 65535, 65536, 2**31 - 1, 2**31, -1, -2**31 - 1],
    [2**40, -2**40, 2**63 - 1, -2**63],
    list(range(2500)),  # crosses CPython's batches of 1000 items
]


@pytest.mark.parametrize("ints", LISTS)
def test_encode_sum_request_pickle_is_what_the_course_server_reads(ints):
    frame = reseau.encode_sum_request(ints)
    (length,) = struct.unpack("I", frame[:4])
    assert length == len(frame) - 4
    # Our own bytes, so pickle.loads is safe here: it is what the course's
    # server does with them.
    assert pickle.loads(frame[4:]) == ints


def test_encode_sum_request_pickle_is_the_default_encoding():
    assert reseau.encode_sum_request([1, 2]) == reseau.encode_sum_request([1, 2], encoding="pickle")


def test_encode_sum_request_pickle_carries_ints_beyond_64_bits():
    ints = [2**100, -2**100 + 7]
    assert pickle.loads(reseau.encode_sum_request(ints)[4:]) == ints


@pytest.mark.parametrize("ints", LISTS)
def test_encode_sum_request_native_round_trips_through_decode(ints):
    frame = reseau.encode_sum_request(ints, encoding="native")
    (length,) = struct.unpack("I", frame[:4])
    assert length == len(frame) - 4
    assert frame[4:] != reseau.encode_sum_request(ints)[4:]
    assert reseau.decode_sum_request(frame[4:]) == ints


def test_encode_sum_request_takes_any_iterable_of_ints():
    expected = reseau.encode_sum_request([0, 1, 2, 3])
    assert reseau.encode_sum_request(range(4)) == expected
    assert reseau.encode_sum_request((0, 1, 2, 3)) == expected
    assert reseau.encode_sum_request(i for i in range(4)) == expected


def test_encode_sum_request_refuses_an_unknown_encoding():
    with pytest.raises(ValueError):
        reseau.encode_sum_request([1], encoding="json")


@pytest.mark.parametrize("bad", [[1, "2"], [1.5], [1, None], [[1, 2]], [b"1"]])
def test_encode_sum_request_refuses_what_is_not_an_int(bad):
    with pytest.raises(TypeError):
        reseau.encode_sum_request(bad)


def test_encode_sum_request_refuses_what_is_not_iterable():
    with pytest.raises(TypeError):
        reseau.encode_sum_request(42)


def test_encode_sum_request_native_refuses_ints_beyond_64_bits():
    for bad in (2**63, -2**63 - 1, 2**100):
        with pytest.raises(OverflowError):
            reseau.encode_sum_request([1, bad], encoding="native")


def test_encode_sum_request_passes_on_the_iterables_own_error():
    def ints():
        yield 1
        raise RuntimeError("the generator broke")

    with pytest.raises(RuntimeError, match="the generator broke"):
        reseau.encode_sum_request(ints())


# --- encode_sum_request reads lists straight (python/src/list_ints.rs) ------

class Index:
    """An int-like object that is no int (as numpy's ints): has __index__."""

    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value


class MyInt(int):
    """An int subclass: read through the safe path, not straight."""


def test_encode_sum_request_of_any_mix_of_ints_is_pickle_dumps_protocol_2():
    rng = random.Random(6)
    kinds = [
        lambda: rng.randrange(256),
        lambda: rng.randrange(-2**31, 2**31),
        lambda: rng.randrange(-2**63, 2**63),
        lambda: rng.randrange(-2**100, 2**100),
        lambda: rng.random() < 0.5,
        lambda: MyInt(rng.randrange(-1000, 1000)),
        lambda: Index(rng.randrange(-2**40, 2**40)),
    ]
    # Around the binding's runs (256 ints) and CPython's batches (1000).
    for n in (0, 1, 2, 3, 255, 256, 257, 511, 999, 1000, 1001, 2001, 5000):
        for mix in (kinds, kinds[:1], kinds[2:4], kinds[4:]):
            ints = [rng.choice(mix)() for _ in range(n)]
            expected = pickle.dumps([operator.index(i) for i in ints], 2)
            assert reseau.encode_sum_request(ints)[4:] == expected, (n, len(mix))
            assert reseau.encode_sum_request(tuple(ints))[4:] == expected
            assert reseau.encode_sum_request(iter(ints))[4:] == expected


def test_encode_sum_request_refuses_a_non_int_after_many_ints():
    for at in (0, 255, 256, 1000, 1500):
        ints = list(range(2000))
        ints[at] = "x"
        with pytest.raises(TypeError):
            reseau.encode_sum_request(ints)


def test_encode_sum_request_survives_a_list_changed_while_it_is_read():
    """An __index__ may change the list being read; the reader must look
    at it again (as Python's own list iterator does), never at freed items."""

    def changed(change):
        ints = list(range(1000, 1600))

        class Changer:
            def __index__(self):
                change(ints)
                return 7

        ints[300] = Changer()
        return pickle.loads(reseau.encode_sum_request(ints)[4:])

    head = list(range(1000, 1300))
    assert changed(lambda ints: ints.clear()) == head + [7]
    assert changed(lambda ints: ints.__delitem__(slice(400, None))) == head + [7] + list(range(1301, 1400))
    assert changed(lambda ints: ints.extend(range(5))) == head + [7] + list(range(1301, 1600)) + list(range(5))
    # Every item replaced by new objects: the old ones are freed.
    assert changed(lambda ints: ints.__setitem__(slice(None), [MyInt(2**40 + k) for k in range(600)])) == (
        head + [7] + [2**40 + k for k in range(301, 600)]
    )


# --- decode_sum_request and sum_request -------------------------------------

@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("ints", LISTS)
def test_decode_sum_request_reads_every_pickle_protocol(ints, protocol):
    assert reseau.decode_sum_request(pickle.dumps(ints, protocol)) == ints


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("ints", LISTS)
def test_decode_sum_request_array_is_the_list_as_an_int64_array(ints, protocol):
    got = reseau.decode_sum_request_array(pickle.dumps(ints, protocol))
    assert isinstance(got, array.array)
    assert got.typecode == "q"
    assert got.tolist() == ints


@pytest.mark.parametrize("ints", LISTS)
def test_decode_sum_request_array_reads_the_native_format(ints):
    got = reseau.decode_sum_request_array(reseau.encode_sum_request(ints, encoding="native")[4:])
    assert got.typecode == "q"
    assert got.tolist() == ints


def test_decode_sum_request_array_of_a_million_ints():
    ints = list(range(-500_000, 500_000))
    assert reseau.decode_sum_request_array(pickle.dumps(ints)) == array.array("q", ints)


def test_decode_sum_request_array_refuses_ints_beyond_64_bits():
    for big in (2**63, -2**63 - 1, 2**100):
        payload = pickle.dumps([1, big, 2])
        assert reseau.decode_sum_request(payload) == [1, big, 2]
        with pytest.raises(OverflowError, match="64 bits"):
            reseau.decode_sum_request_array(payload)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("ints", LISTS)
def test_sum_request_is_the_sum_of_the_list(ints, protocol):
    assert reseau.sum_request(pickle.dumps(ints, protocol)) == sum(ints)


def test_sum_request_reads_the_native_format_too():
    ints = [2**62, 2**62 - 1, -5]
    assert reseau.sum_request(reseau.encode_sum_request(ints, encoding="native")[4:]) == sum(ints)


def test_sum_request_carries_ints_and_sums_beyond_64_bits():
    ints = [2**100, 2**100, -1]
    assert reseau.decode_sum_request(pickle.dumps(ints)) == ints
    assert reseau.sum_request(pickle.dumps(ints)) == 2**101 - 1


def test_sum_request_total_beyond_128_bits_is_an_overflow_error():
    with pytest.raises(OverflowError):
        reseau.sum_request(pickle.dumps([2**126, 2**126]))


@pytest.mark.parametrize("ints", [
    [2**127 - 1, 2**127 - 1, -(2**127 - 1), -(2**127 - 1), 5],
    [-(2**127), -(2**127), 2**127 - 1, 2**127 - 1, 9],
    [2**127 - 1] * 1000 + [-(2**127 - 1)] * 1000,
])
def test_sum_request_is_exact_whatever_the_partial_sums(ints):
    # Python's sum decides; partial sums leave 128 bits, the total does not.
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert reseau.sum_request(pickle.dumps(ints, protocol=protocol)) == sum(ints)


def test_an_int_beyond_128_bits_is_refused():
    for function in (reseau.decode_sum_request, reseau.sum_request):
        with pytest.raises(reseau.PickleError, match="does not fit in 128 bits"):
            function(pickle.dumps([2**200]))


def test_encode_sum_request_pickle_refuses_ints_beyond_128_bits():
    with pytest.raises(OverflowError):
        reseau.encode_sum_request([2**127])


def test_sum_request_of_a_million_ints():
    ints = list(range(1_000_000))
    assert reseau.sum_request(pickle.dumps(ints)) == sum(ints)


def test_decode_and_sum_accept_only_bytes():
    for function in (reseau.decode_sum_request, reseau.decode_sum_request_array, reseau.sum_request):
        for bad in ("\x80\x04]\x94.", [1, 2], None, 7):
            with pytest.raises(TypeError):
                function(bad)


def hostile_payloads(marker):
    """The hostile requests of tests/peers/hostile.py, as payloads: the
    ones that are not lists of ints (the sums out of range are lists of
    ints, and the cases about headers have no whole payload)."""
    cases, _ = hostile.cases(marker)
    refused = {"evil", "global_p0", "stack_global", "string", "float", "nested_list",
               "dict", "tuple", "after_stop", "protocol_6"}
    payloads = {name: data[4:] for name, data in cases if name in refused}
    assert set(payloads) == refused
    ok = pickle.dumps([1, 2, 3])
    payloads["truncated"] = ok[:-1]
    payloads["truncated_in_an_int"] = pickle.dumps([1, 70000])[:-5]
    payloads["empty"] = b""
    payloads["set"] = pickle.dumps({1, 2})
    payloads["int_alone"] = pickle.dumps(5)
    payloads["bytes"] = pickle.dumps([1, b"2"])
    payloads["none"] = pickle.dumps([1, None])
    payloads["garbage"] = b"\xff\xfe\xfd"
    return payloads


@pytest.mark.parametrize("function", ["decode_sum_request", "decode_sum_request_array", "sum_request"])
def test_hostile_pickles_are_refused_and_never_run(function, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = "PWNED-by-a-pickle"
    for name, payload in hostile_payloads(marker).items():
        with pytest.raises(reseau.ProtocolError):
            getattr(reseau, function)(payload)
        with pytest.raises(reseau.MalformedRequest):
            getattr(reseau, function)(payload)
    assert not (tmp_path / marker).exists()


def test_the_evil_pickle_really_is_evil(tmp_path, monkeypatch):
    """The control for the test above: pickle.loads runs it."""
    monkeypatch.chdir(tmp_path)
    _, evil = hostile.cases("control-marker")
    pickle.loads(evil)
    assert (tmp_path / "control-marker").exists()


def test_a_refused_pickle_says_which_opcode():
    _, evil = hostile.cases("never-created")
    with pytest.raises(reseau.ProtocolError, match="opcode"):
        reseau.decode_sum_request(evil)


def test_bools_are_ints_as_in_python():
    assert reseau.decode_sum_request(pickle.dumps([True, False, 2])) == [1, 0, 2]
    # As ints, not bools (True == 1 would pass the line above).
    assert [type(v) for v in reseau.decode_sum_request(pickle.dumps([True, False]))] == [int, int]


def test_protocol_errors_are_value_errors():
    with pytest.raises(ValueError):
        reseau.sum_request(pickle.dumps([1, "a"]))


def test_bad_native_payloads_are_malformed_requests():
    empty = reseau.encode_sum_request([], encoding="native")[4:]  # MAGIC VERSION
    one = reseau.encode_sum_request([300], encoding="native")[4:]
    for bad in (empty[:1],                         # no version
                empty[:1] + bytes([empty[1] + 1]),  # a version to come
                one[:-1],                           # a varint cut short
                empty + b"\x80"):                   # a varint that never ends
        with pytest.raises(reseau.MalformedRequest):
            reseau.decode_sum_request(bad)
