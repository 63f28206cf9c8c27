"""reseau.show: the explanation table and the sequence diagram, on the real
decoder (reseau.explain_rows, checked against CPython's pickletools) and
on real traced exchanges between reseau's servers and course-style clients
(plain sockets). Every wait is bounded (socket timeouts, wait_trace)."""

import pickle
import pickletools
import socket
import struct
import xml.etree.ElementTree as ET

import pytest

import reseau
from reseau.show import Explanation, explain, sequence_diagram, wait_trace

WAIT = 10.0
SVG = "{http://www.w3.org/2000/svg}"

# Ints of every pickle encoding: BININT1, BININT2, BININT, LONG1 (and, at
# protocol 0, INT and LONG), negative ones too.
INTS = [0, 1, 255, 256, 65535, 65536, 2**31 - 1, 2**31, -1, -300, -2**31, 2**40, -2**63]


def framed(payload):
    """The course's request: struct.pack('I', len(payload)) + payload."""
    return struct.pack('I', len(payload)) + payload


def genops_rows(payload):
    """(opcode name, offset in the frame, argument) of each opcode, as
    CPython's pickletools reads the payload."""
    return [(op.name, pos + 4, arg) for op, arg, pos in pickletools.genops(payload)]


def course_client(address, ints):
    """The course's _compute: the length, the pickle in a send loop, the
    4-byte sum, close. Returns the sum."""
    s = socket.create_connection(address, timeout=WAIT)
    msg = pickle.dumps(ints)
    s.send(struct.pack('I', len(msg)))
    totalsent = 0
    while totalsent < len(msg):
        totalsent += s.send(msg[totalsent:])
    reply = s.recv(4)
    s.close()
    return struct.unpack('I', reply)[0]


@pytest.fixture
def adder_exchange():
    """The events a traced AdderServer recorded for one course client
    summing [1, 2], once the server closed the connection."""
    with reseau.AdderServer(host="127.0.0.1", port=0, trace=True) as server:
        assert course_client(server.address, [1, 2]) == 3
        return wait_trace(server, "close", timeout=WAIT)


@pytest.mark.parametrize("protocol", range(6))
def test_explain_reads_each_opcode_as_pickletools_does(protocol):
    payload = pickle.dumps(INTS, protocol=protocol)
    rows = explain(framed(payload)).rows
    assert [(r["field"], r["offset"], r.get("value")) for r in rows[1:]] == genops_rows(payload)


@pytest.mark.parametrize("protocol", range(6))
def test_explain_starts_with_the_frame_length(protocol):
    payload = pickle.dumps(INTS, protocol=protocol)
    first = explain(framed(payload)).rows[0]
    assert (first["field"], first["offset"], first["len"], first["value"]) == ("length", 0, 4, len(payload))


@pytest.mark.parametrize("protocol", range(6))
def test_explain_covers_every_byte_once(protocol):
    request = framed(pickle.dumps(INTS, protocol=protocol))
    rows = explain(request).rows
    assert [r["offset"] for r in rows] == [0] + [sum(r["len"] for r in rows[:i]) for i in range(1, len(rows))]
    assert sum(r["len"] for r in rows) == len(request)


def test_explain_rows_carry_the_fields_first_bytes():
    request = framed(pickle.dumps(list(range(100, 140)), protocol=2))
    for row in explain(request).rows:
        start = row["offset"]
        assert row["hex"] == request[start:start + min(row["len"], 16)].hex()


def test_explain_gives_the_running_sum_on_each_int():
    request = framed(pickle.dumps(INTS, protocol=2))
    sums = [r["sum"] for r in explain(request).rows if r.get("sum") is not None]
    assert sums == [sum(INTS[:i + 1]) for i in range(len(INTS))]


def test_explain_verdict_is_the_sum_the_server_answers():
    verdicts = explain(framed(pickle.dumps([1, 2, 300], protocol=3))).verdicts
    assert [(v["verdict"], v["ints"], v["sum"], v["reply"]) for v in verdicts] == [
        ("sum", 3, 303, struct.pack('I', 303).hex())]


def test_explain_refuses_a_global_at_its_byte():
    class Evil:
        def __reduce__(self):
            return (print, ("this would run on the server",))

    payload = pickle.dumps([1, Evil()], protocol=2)
    request = framed(payload)
    at = next(pos for name, pos, _ in genops_rows(payload) if name == "GLOBAL")
    verdict = explain(request).verdicts[-1]
    assert (verdict["verdict"], verdict["offset"]) == ("refused", at)


def test_explain_leaves_the_refused_opcode_and_what_follows_unread():
    payload = pickle.dumps([1, print], protocol=2)
    request = framed(payload)
    rows = explain(request).rows
    at = next(pos for name, pos, _ in genops_rows(payload) if name == "GLOBAL")
    after = [r for r in rows if r["offset"] + r["len"] > at]
    assert [(r["field"], r["offset"] + r["len"]) for r in after] == [("unread", len(request))]


def test_explain_reads_a_reply():
    rows = explain(struct.pack('I', 42), reply=True).rows
    assert [(r["field"], r["value"]) for r in rows] == [("reply", 42)]


def test_explain_reads_the_native_format():
    request = reseau.encode_sum_request([1, 2, 300], encoding="native")
    rows = explain(request).rows
    assert [(r["field"], r.get("value")) for r in rows] == [
        ("length", len(request) - 4), ("magic", 254), ("version", 1), ("int", 1), ("int", 2), ("int", 300)]


def test_explain_takes_a_bytearray_or_a_memoryview():
    request = framed(pickle.dumps([1, 2], protocol=2))
    assert explain(bytearray(request)).items == explain(memoryview(request)).items == explain(request).items


def test_explain_refuses_a_str():
    with pytest.raises(TypeError):
        explain("0c000000")


def test_explanation_text_is_a_table_of_every_row_then_the_verdict():
    e = explain(framed(pickle.dumps([1, 2], protocol=2)))
    lines = str(e).splitlines()
    column = lines[0].index("field")
    assert [line[column:].split()[0] for line in lines[1:-1]] == [r["field"] for r in e.rows]
    assert lines[-1].startswith("=> ")


def test_explanation_html_has_a_line_per_row_and_verdict():
    e = explain(framed(pickle.dumps([1, 2], protocol=2)))
    assert e._repr_html_().count("<tr>") == 1 + len(e.rows) + len(e.verdicts)


def test_explanation_of_a_long_request_shows_its_first_rows_then_the_verdict():
    e = explain(framed(pickle.dumps(list(range(10_000)), protocol=2)))
    lines = str(e).splitlines()
    assert len(lines) == 1 + 200 + 2
    assert lines[-2:] == ["… %d more rows" % (len(e.rows) - 200), "=> " + e.verdicts[-1]["text"]]


def test_explanation_html_of_a_long_request_is_bounded():
    request = framed(pickle.dumps(list(range(10_000)), protocol=2))
    assert explain(request)._repr_html_().count("<tr>") == 1 + 200 + 2


# Text an attacker controls: a terminal escape (clear the screen), a
# newline that would forge a line, a right-to-left override, and markup.
HOSTILE = "\x1b[2J\n=> sum\u202e<script>alert(1)</script>&"


def hostile_pickle():
    """A pickle naming a "module" made of HOSTILE (never loaded)."""
    name = HOSTILE.replace("\n", " ").encode()
    return b"\x80\x02]q\x00(K\x01c" + name + b"\nsystem\nq\x01e."


def test_explanation_text_of_a_hostile_pickle_has_no_control_character():
    text = str(explain(framed(hostile_pickle())))
    assert not [ch for ch in text if not ch.isprintable() and ch != "\n"]


def test_explanation_html_of_a_hostile_pickle_has_no_markup_from_it():
    assert "<script>" not in explain(framed(hostile_pickle()))._repr_html_()


def test_explanation_rendering_escapes_whatever_a_row_says():
    e = Explanation([{"offset": 0, "len": 1, "hex": "00", "field": HOSTILE, "value": None,
                      "meaning": HOSTILE},
                     {"verdict": "refused", "text": HOSTILE, "reply": ""}])
    text, markup = str(e), e._repr_html_()
    assert len(text.splitlines()) == 3 and "\x1b" not in text and "\u202e" not in text
    assert "<script>" not in markup and "\x1b" not in markup


def test_diagram_of_a_traced_adder_exchange_has_its_arrows_in_order(adder_exchange):
    d = sequence_diagram(adder_exchange)
    client = "client " + adder_exchange[0]["peer"]
    assert [(a[1], a[2], a[4]["kind"]) for a in d.arrows] == [
        (client, "adder server", "open"),
        (client, "adder server", "message"),
        ("adder server", client, "message"),
        ("adder server", client, "close"),
    ]


def test_diagram_labels_the_exchange(adder_exchange):
    labels = [a[3] for a in sequence_diagram(adder_exchange).arrows]
    assert (labels[0], labels[3]) == ("connect (SYN)", "close (FIN)")


def test_diagram_labels_a_message_with_its_summary(adder_exchange):
    labels = [a[3] for a in sequence_diagram(adder_exchange).arrows]
    assert labels[1:3] == [adder_exchange[1]["summary"], adder_exchange[2]["summary"]]


def test_diagram_of_a_keep_alive_exchange_has_the_clients_fin():
    with reseau.AdderServer(host="127.0.0.1", port=0, keep_alive=True, trace=True) as server:
        course_client(server.address, [1, 2])
        events = wait_trace(server, "close", timeout=WAIT)
    assert [a[4]["kind"] for a in sequence_diagram(events).arrows] == [
        "open", "message", "message", "eof", "close"]


def test_diagram_of_a_refused_request_has_the_request_then_the_close():
    payload = pickle.dumps([1, print], protocol=2)
    with reseau.AdderServer(host="127.0.0.1", port=0, trace=True) as server:
        s = socket.create_connection(server.address, timeout=WAIT)
        s.sendall(framed(payload))
        try:
            assert s.recv(4) == b""
        except ConnectionResetError:
            pass
        s.close()
        events = wait_trace(server, "close", timeout=WAIT)
    arrows = sequence_diagram(events).arrows
    assert [(a[4]["kind"], a[4]["from"]) for a in arrows] == [
        ("open", "client"), ("message", "client"), ("close", "server")]


def test_diagram_svg_is_well_formed_with_an_arrow_per_event(adder_exchange):
    root = ET.fromstring(sequence_diagram(adder_exchange, title="adder")._repr_svg_())
    kinds = [g.get("data-kind") for g in root.iter(SVG + "g") if g.get("class") == "arrow"]
    assert kinds == ["open", "message", "message", "close"]


def test_diagram_text_has_a_line_per_arrow(adder_exchange):
    lines = str(sequence_diagram(adder_exchange)).splitlines()
    assert [line.rsplit("|  ", 1)[1] for line in lines[1:]] == [
        a[3] for a in sequence_diagram(adder_exchange).arrows]


def test_diagram_of_a_traced_chat_has_a_lane_per_peer_and_no_connection():
    with reseau.Chat(host="127.0.0.1", port=0, trace=True) as ours, \
            reseau.Chat(host="127.0.0.1", port=0) as other:
        ours.join(*other.address)
        other.join(*ours.address)
        ours.send("Bonjour")
        assert other.receive(WAIT)[0] == "Bonjour"
        other.send("Salut")
        assert ours.receive(WAIT)[0] == "Salut"
        peer = "peer %s:%d" % other.address
        arrows = sequence_diagram(ours).arrows
    assert [(a[1], a[2], a[4]["kind"]) for a in arrows] == [
        ("this chat", peer, "message"), (peer, "this chat", "message")]


def test_diagram_is_bounded(adder_exchange):
    d = sequence_diagram(adder_exchange, max_arrows=2)
    assert (len(d.arrows), d.more) == (2, 2)
    assert str(d).splitlines()[-1].strip() == "… 2 more events"


def test_diagram_takes_the_server_itself():
    with reseau.AdderServer(host="127.0.0.1", port=0, trace=True) as server:
        course_client(server.address, [1, 2])
        wait_trace(server, "close", timeout=WAIT)
        assert len(sequence_diagram(server).arrows) == len(server.trace_events())


def test_diagram_of_a_hostile_echo_has_no_control_character_nor_markup():
    with reseau.EchoServer(host="127.0.0.1", port=0, trace=True) as echo:
        c = socket.create_connection(echo.address, timeout=WAIT)
        c.sendall(HOSTILE.encode())
        c.shutdown(socket.SHUT_WR)
        while c.recv(1024):
            pass
        c.close()
        d = sequence_diagram(wait_trace(echo, "close", timeout=WAIT), title=HOSTILE)
    text, svg = str(d), d._repr_svg_()
    assert not [ch for ch in text if not ch.isprintable() and ch != "\n"]
    assert "<script>" not in svg
    ET.fromstring(svg)  # still well-formed XML


def test_wait_trace_gives_up_after_its_timeout():
    with reseau.AdderServer(host="127.0.0.1", port=0, trace=True) as server:
        with pytest.raises(TimeoutError):
            wait_trace(server, "close", timeout=0.2)
