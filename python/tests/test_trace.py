"""The binding's `explain` rows and verdicts, and the traces of
`AdderServer(trace=True)`, `EchoServer(trace=True)` and `Chat(trace=True)`
with the course's own clients (plain sockets)."""

import os
import pickle
import socket
import struct
import time

import pytest

import reseau
from adder_lists import AdderClient  # tests/peers/adder_lists.py: the course's client
from conftest import WAIT


def framed(payload):
    return struct.pack("I", len(payload)) + payload


def wait_events(server, predicate, timeout=WAIT):
    """The server's events once predicate holds of them (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        events = server.trace_events()
        if predicate(events):
            return events
        if time.monotonic() > deadline:
            raise AssertionError("trace never got there: %r" % events)
        time.sleep(0.01)


def test_explain_gives_each_field_then_the_verdict():
    request = framed(pickle.dumps([1, 300], protocol=2))
    items = reseau.explain_rows(request)
    assert [(i.get("field"), i.get("value"), i.get("offset")) for i in items[:-1]] == [
        ("length", 13, 0), ("PROTO", 2, 4), ("EMPTY_LIST", None, 6), ("BINPUT", 0, 7),
        ("MARK", None, 9), ("BININT1", 1, 10), ("BININT2", 300, 12), ("APPENDS", None, 15),
        ("STOP", None, 16),
    ]
    assert items[6]["sum"] == 301 and items[6]["hex"] == "4d2c01"
    assert items[-1] == {
        "verdict": "sum", "ints": 2, "sum": 301, "offset": None, "error": None,
        "text": "the server answers 301 (2 ints): 2d 01 00 00", "reply": "2d010000",
    }


def test_explain_says_where_a_dangerous_pickle_is_refused():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    payload = pickle.dumps(Evil(), protocol=2)
    items = reseau.explain_rows(payload)  # a bare payload: its offsets are its own
    verdict = items[-1]
    assert verdict["verdict"] == "refused"
    assert verdict["offset"] == 2
    assert verdict["error"].startswith("pickle opcode GLOBAL (0x63) at byte 2 is not allowed")
    assert [i["field"] for i in items[:-1]] == ["PROTO", "unread"]


def test_explain_ints_past_64_bits_are_exact():
    items = reseau.explain_rows(framed(pickle.dumps([2**100, -(2**100) + 5])))
    ints = [i for i in items if i.get("field") == "LONG1"]
    assert [i["value"] for i in ints] == [2**100, -(2**100) + 5]
    assert ints[-1]["sum"] == 5


def test_explain_replies():
    assert reseau.explain_rows(struct.pack("I", 303), reply=True) == [{
        "offset": 0, "len": 4, "hex": "2f010000", "field": "reply", "value": 303, "sum": None,
        "meaning": "the sum, 303",
    }]


def test_the_course_client_s_exchange_is_traced_in_order():
    with reseau.AdderServer(port=0, trace=True) as server:
        client = AdderClient(*server.address)
        try:
            assert client.compute([1, 2, 300], None) == 303
        finally:
            client.close()
        events = wait_events(server, lambda e: any(x["kind"] == "close" for x in e))
    kinds = [(e["kind"], e["from"], e["to"]) for e in events]
    assert kinds == [
        ("open", "client", "server"),
        ("message", "client", "server"),
        ("message", "server", "client"),
        ("close", "server", "client"),
    ]
    request, reply = events[1], events[2]
    assert request["summary"].endswith(": 3 ints, sum 303")
    assert request["verdict"] == "the server answers 303 (3 ints): 2f 01 00 00"
    assert [r["field"] for r in request["rows"]][:2] == ["length", "PROTO"]
    assert reply["summary"] == "reply, 4 bytes: the sum 303"
    assert len({e["peer"] for e in events}) == 1
    assert events[0]["time"] <= events[-1]["time"]


def test_a_long_request_keeps_its_first_rows_and_counts_the_rest():
    with reseau.AdderServer(port=0, trace=True) as server:
        assert reseau.sum(range(1000), *server.address) == 499500
        events = wait_events(server, lambda e: any(x["kind"] == "close" for x in e))
    request = next(e for e in events if e["kind"] == "message" and e["from"] == "client")
    assert len(request["rows"]) == 12
    # length, PROTO, EMPTY_LIST, BINPUT, MARK, 1000 ints, APPENDS, STOP
    assert request["skipped"] == 5 + 1000 + 2 - 12


def test_echo_trace_keeps_text_escaped():
    with reseau.EchoServer(port=0, trace=True) as server:
        with socket.create_connection(server.address, timeout=WAIT) as s:
            s.sendall(b"\x1b[2Jhi\n")
            s.shutdown(socket.SHUT_WR)
            assert s.recv(64) == b"\x1b[2Jhi\n"
        events = wait_events(server, lambda e: any(x["kind"] == "close" for x in e))
    summaries = [e["summary"] for e in events if e["kind"] == "message"]
    assert summaries == ['7 bytes: "\\x1b[2Jhi\\n"', '7 bytes: "\\x1b[2Jhi\\n"']
    assert ("eof", "client") in [(e["kind"], e["from"]) for e in events]


def test_chat_trace_has_both_directions():
    with reseau.Chat(port=0, trace=True) as ours, reseau.Chat(port=0) as other:
        ours.join(*other.address)
        other.join(*ours.address)
        ours.send("Bonjour")
        assert other.receive(WAIT)[0] == "Bonjour"
        other.send("Salut")
        assert ours.receive(WAIT)[0] == "Salut"
        events = ours.trace_events()
    assert [(e["from"], e["summary"]) for e in events] == [
        ("server", '7 bytes: "Bonjour"'),
        ("client", '5 bytes: "Salut"'),
    ]


@pytest.mark.parametrize("make", [
    lambda: reseau.AdderServer(port=0),
    lambda: reseau.EchoServer(port=0),
    lambda: reseau.Chat(port=0),
])
def test_without_trace_there_are_no_events(make):
    thing = make()
    try:
        with pytest.raises(ValueError, match="without trace=True"):
            thing.trace_events()
    finally:
        (thing.stop if hasattr(thing, "stop") else thing.close)()

