"""Showing what travels on the wire: explanation tables and sequence diagrams.

Presentation only (standard library, no network): the rows come from
``reseau.explain_rows``, the adder's own decoder, and the events from a
server's ``trace_events()``. Two things to show:

    explain(data, reply=False) -> Explanation
        the bytes of an adder request (or, with reply=True, of its answer)
        field by field, like ``pickletools.dis`` but for the whole frame:
        offset, bytes, field, meaning, then what the server does with it.
        ``str()`` is a fixed-width table; in a notebook it is an HTML table.

    sequence_diagram(events, title=None) -> SequenceDiagram
        the course's *diagramme de séquence* of a traced exchange: a lane
        per participant, an arrow per event, time flowing down. ``str()``
        draws it in text; in a notebook it is an SVG picture.

Everything shown may come from the network (a pickle's strings, an echoed
message): every text is escaped, control characters included, before it
reaches a terminal, HTML or SVG.
"""

from __future__ import annotations

import time

# Annotations only (strings, from __future__): typing is not imported at
# run time, and neither is html (its re and enum): `import reseau` stays
# fast (python/bench/wheel_figures.sh measures it).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import (Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                        Tuple, Union)

from reseau import _native

__all__ = ["Explanation", "SequenceDiagram", "explain", "sequence_diagram", "wait_trace"]

# Bytes of a field shown in the text table (the HTML table shows the 16
# bytes a row carries); "…" says there are more.
TEXT_HEX_BYTES = 8
# Items (rows and verdicts) an Explanation shows at most; then it counts
# the rest and shows the last verdict.
MAX_ITEMS = 200
# Arrows drawn at most; the events after them are counted.
MAX_ARROWS = 40
# Characters of a label kept (the rest becomes "…").
MAX_LABEL = 72


def printable(text: Any) -> str:
    """text as a str whose every character shows as itself: a control or
    other non-printable character (ESC, a newline, U+202E...) becomes its
    escape (\\x1b, \\n, \\u202e), so that bytes from the network cannot
    move a terminal's cursor, forge a line or reorder what is shown. Text
    already escaped (the servers' summaries) is left as it is."""
    text = "" if text is None else str(text)
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return "".join(out)


def clip(text: str, limit: int = MAX_LABEL) -> str:
    """text cut to at most limit characters, "…" marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markup(text: Any) -> str:
    """text made printable, then escaped for HTML and XML (attributes
    included): safe between tags and in quotes."""
    # What html.escape(..., quote=True) does.
    return (printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))


def spaced_hex(hexa: str, nbytes: int) -> str:
    """The first nbytes of a hex string, a space between bytes."""
    hexa = printable(hexa)
    return " ".join(hexa[i : i + 2] for i in range(0, min(len(hexa), 2 * nbytes), 2))


def _shown_hex(row: Mapping[str, Any], nbytes: int) -> str:
    """A row's bytes in hex (at most nbytes), "…" when the field is longer."""
    shown = spaced_hex(row.get("hex") or "", nbytes)
    if int(row.get("len") or 0) > nbytes:
        shown += " …"
    return shown


def _verdict_line(verdict: Mapping[str, Any]) -> str:
    """One verdict in a line: what the server does (its text names the
    bytes it answers), or, without a text, the verdict and the reply."""
    if verdict.get("text"):
        return printable(verdict["text"])
    line = printable(verdict.get("verdict"))
    if verdict.get("reply"):
        line += ": " + spaced_hex(verdict["reply"], 64)
    return line


class Explanation:
    """What each byte of a message means, and what the server does with it.

    ``rows``: one dict per field, in byte order (every byte in exactly one
    row): offset, len, hex (the field's first 16 bytes), field (CPython's
    opcode name, or "length", "magic", "version", "int", "reply", "sum",
    "error", "unread"), value, sum (the running sum, on an int), meaning.
    ``verdicts``: one dict per request (or refusal): verdict ("sum" or
    "refused"), ints, sum, offset, error, text, reply (hex).
    ``items``: both, in the order the decoder gave them.

    ``str()`` and the HTML table show the first ``max_items`` items (200;
    set it on the object to show more), then how many were left out and
    the last verdict: a request of a million ints is a table of 200 lines.
    """

    max_items = MAX_ITEMS

    def __init__(self, items: Iterable[Mapping[str, Any]], data: Optional[bytes] = None):
        self.items = [item if type(item) is dict else dict(item) for item in items]
        self.rows = [item for item in self.items if "verdict" not in item]
        self.verdicts = [item for item in self.items if "verdict" in item]
        self.data = data

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return iter(self.rows)

    def __repr__(self) -> str:
        verdicts = ", ".join(printable(v.get("verdict")) for v in self.verdicts) or "none"
        return "<Explanation: %d rows, verdicts: %s>" % (len(self.rows), verdicts)

    def _shown(self) -> Tuple[List[Dict[str, Any]], str, Optional[Dict[str, Any]]]:
        """The items shown; the note on those left out ("" if none); the
        last verdict, if it was left out."""
        if len(self.items) <= self.max_items:
            return self.items, "", None
        shown = self.items[: self.max_items]
        rest = self.items[self.max_items:]
        rows = sum(1 for item in rest if "verdict" not in item)
        verdicts = [item for item in rest if "verdict" in item]
        note = "… %d more rows" % rows
        if len(verdicts) > 1:
            note += " and %d more verdicts" % (len(verdicts) - 1)
        return shown, note, verdicts[-1] if verdicts else None

    def __str__(self) -> str:
        head = ["offset", "bytes", "field", "meaning"]
        shown, note, last = self._shown()
        # A row's cells, or None where a verdict goes.
        table: List[Optional[List[str]]] = []
        for item in shown:
            if "verdict" in item:
                table.append(None)
            else:
                table.append([
                    str(item.get("offset", "")),
                    _shown_hex(item, TEXT_HEX_BYTES),
                    printable(item.get("field")),
                    printable(item.get("meaning") or _meaning(item)),
                ])
        widths = [len(h) for h in head]
        for cells in table:
            if cells:
                widths = [max(w, len(c)) for w, c in zip(widths, cells)]
        out = [_text_row(head, widths)]
        for item, cells in zip(shown, table):
            out.append("=> " + _verdict_line(item) if cells is None else _text_row(cells, widths))
        if note:
            out.append(note)
        if last is not None:
            out.append("=> " + _verdict_line(last))
        return "\n".join(out)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython's text display (a terminal): the table."""
        p.text(str(self))

    def _repr_html_(self) -> str:
        """The table in HTML, for a notebook; every text escaped."""
        out = [
            '<table class="reseau-explain">',
            "<thead><tr><th>offset</th><th>bytes</th><th>field</th><th>meaning</th></tr></thead>",
            "<tbody>",
        ]
        shown, note, last = self._shown()
        for item in shown + ([{"note": note}] if note else []) + ([last] if last else []):
            if "note" in item:
                out.append('<tr><td colspan="4" style="text-align:left">%s</td></tr>' % markup(item["note"]))
            elif "verdict" in item:
                style = "color:#a00" if item.get("verdict") == "refused" else "color:#060"
                out.append(
                    '<tr><td colspan="4" style="text-align:left;%s"><b>%s</b>: %s</td></tr>'
                    % (style, markup(item.get("verdict")), markup(_verdict_line(item)))
                )
            else:
                out.append(
                    "<tr><td style=\"text-align:right\">%s</td><td style=\"text-align:left\"><code>%s</code></td>"
                    "<td style=\"text-align:left\"><code>%s</code></td><td style=\"text-align:left\">%s</td></tr>"
                    % (
                        markup(item.get("offset")),
                        markup(_shown_hex(item, 16)),
                        markup(item.get("field")),
                        markup(item.get("meaning") or _meaning(item)),
                    )
                )
        out.append("</tbody></table>")
        return "\n".join(out)


def _meaning(row: Mapping[str, Any]) -> str:
    """A row's meaning when the decoder gave none: its value and sum."""
    parts = []
    if row.get("value") is not None:
        parts.append(str(row["value"]))
    if row.get("sum") is not None:
        parts.append("sum %s" % row["sum"])
    return ", ".join(parts)


def _text_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """One line of the text table: offset right-aligned, the rest left."""
    first = cells[0].rjust(widths[0])
    rest = [c.ljust(w) for c, w in zip(cells[1:-1], widths[1:-1])]
    return "  ".join([first, *rest, cells[-1]]).rstrip()


def explain(data: Union[bytes, bytearray, memoryview], reply: bool = False) -> Explanation:
    """Explains an adder message byte by byte: a request (frames of pickle
    or of the native format, one after the other, as a client sends them)
    or, with reply=True, the server's answer. The rows come from the
    decoder that serves requests, so the verdict is what a reseau server
    does with these bytes: the sum it answers, or why and at which byte it
    refuses. Nothing is unpickled."""
    if isinstance(data, str):
        raise TypeError("explain() takes bytes, not str (bytes.fromhex() reads hex)")
    data = bytes(data)
    return Explanation(_native.explain_rows(data, reply), data)


# The sequence diagram.

# Labels of the events that are not messages.
_KIND_LABELS = {
    "open": "connect (SYN)",
    "eof": "FIN (no more data)",
    "close": "close (FIN)",
}


def _lane(side: Any, event: Mapping[str, Any]) -> str:
    """The participant at one end of an event: a client by its address, a
    server by its service; in a chat's trace, "this chat" and the peer by
    its address; any other name as it is."""
    name = printable(side)
    chat = event.get("service") == "chat"
    if name == "client":
        peer = printable(event.get("peer") or "?")
        return ("peer " if chat else "client ") + peer
    if name == "server" and chat:
        return "this chat"
    if name == "server":
        service = printable(event.get("service") or "")
        return (service + " server").strip()
    return name


def _label(event: Mapping[str, Any]) -> str:
    """What an arrow says: a message's summary, or the connection event."""
    kind = printable(event.get("kind") or "message")
    if kind in _KIND_LABELS:
        label = _KIND_LABELS[kind]
    else:
        label = printable(event.get("summary") or "")
        if not label:
            label = "%s bytes" % event.get("len", "?")
    return clip(label)


def _tooltip(event: Mapping[str, Any]) -> str:
    """An arrow's details: the explained rows it carries, the verdict."""
    lines = [_label(event)]
    for row in event.get("rows") or []:
        lines.append("%s %s %s" % (row.get("offset", ""), printable(row.get("field")),
                                   printable(row.get("meaning") or _meaning(row))))
    if event.get("skipped"):
        lines.append("… %d more rows" % event["skipped"])
    if event.get("verdict"):
        lines.append(printable(event["verdict"]))
    return "\n".join(lines)


def _relative(seconds: float) -> str:
    """A time since the first event: "+1.234 ms" or "+1.234 s"."""
    if seconds < 1:
        return "+%.3f ms" % (seconds * 1000)
    return "+%.3f s" % seconds


class SequenceDiagram:
    """The sequence diagram of traced events: ``str()`` in text,
    ``_repr_svg_()`` as a self-contained SVG picture.

    ``lanes``: the participants, left to right (clients by address, in the
    order they appear, then servers); ``arrows``: (time since the first
    event, from lane, to lane, label, event) for the events drawn (at most
    max_arrows); ``more``: how many events were left out.
    """

    def __init__(self, events: Iterable[Mapping[str, Any]], title: Optional[str] = None,
                 max_arrows: int = MAX_ARROWS):
        # Time flows down: the events in time order (stable: the trace's
        # order for equal times).
        kept = sorted((dict(e) for e in events), key=lambda e: float(e.get("time") or 0.0))
        self.title = None if title is None else printable(title)
        self.events = kept
        self.more = max(0, len(kept) - max_arrows)
        start = float(kept[0].get("time") or 0.0) if kept else 0.0
        clients: List[str] = []
        servers: List[str] = []
        self.arrows: List[Tuple[float, str, str, str, Dict[str, Any]]] = []
        for event in kept[:max_arrows]:
            source = _lane(event.get("from"), event)
            target = _lane(event.get("to"), event)
            for side, lane in ((event.get("from"), source), (event.get("to"), target)):
                group = servers if side == "server" else clients
                if lane not in clients and lane not in servers:
                    group.append(lane)
            moment = max(0.0, float(event.get("time") or 0.0) - start)
            self.arrows.append((moment, source, target, _label(event), event))
        self.lanes = clients + servers

    def __len__(self) -> int:
        return len(self.arrows)

    def __repr__(self) -> str:
        return "<SequenceDiagram: %d lanes, %d arrows%s>" % (
            len(self.lanes), len(self.arrows), ", %d more" % self.more if self.more else "")

    def __str__(self) -> str:
        width = max([len(lane) for lane in self.lanes] + [14]) + 4
        times = [_relative(t) for t, *_ in self.arrows]
        margin = max([len(t) for t in times] + [0]) + 2
        total = width * max(len(self.lanes), 1)
        out = []
        if self.title:
            out.append(self.title)
        out.append(" " * margin + "".join(lane.ljust(width) for lane in self.lanes).rstrip())
        column = {lane: i * width for i, lane in enumerate(self.lanes)}
        for moment, (_, source, target, label, _event) in zip(times, self.arrows):
            line = [" "] * (total + 1)
            for x in column.values():
                line[x] = "|"
            a, b = column[source], column[target]
            if a < b:
                for x in range(a + 1, b - 1):
                    line[x] = "-"
                line[b - 1] = ">"
            elif a > b:
                for x in range(b + 2, a):
                    line[x] = "-"
                line[b + 1] = "<"
            else:
                line[a + 1] = "*"
            out.append(moment.rjust(margin - 2) + "  " + "".join(line).rstrip() + "  " + label)
        if self.more:
            out.append(" " * margin + "… %d more events" % self.more)
        return "\n".join(out)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython's text display (a terminal): the text diagram."""
        p.text(str(self))

    def _repr_svg_(self) -> str:
        """The diagram as an SVG picture (no script, no external file)."""
        lanes = self.lanes or ["(no events)"]
        longest = max([len(a[3]) for a in self.arrows] + [len(lane) for lane in lanes] + [10])
        gap = max(180, min(longest, MAX_LABEL) * 7 + 30)
        left = 90  # the times' column
        top = 40 if self.title else 12
        box_h = 28
        step = 34
        x = {lane: left + gap // 2 + i * gap for i, lane in enumerate(lanes)}
        width = left + gap * len(lanes)
        first = top + box_h + 26
        bottom = first + step * len(self.arrows) + (step if self.more else 0)
        height = bottom + 12
        out = [
            '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
            'font-family="sans-serif" font-size="12">' % (width, height, width, height),
            "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
            "markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\">"
            "<path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#333\"/></marker></defs>",
            '<rect width="100%" height="100%" fill="white"/>',
        ]
        if self.title:
            out.append('<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>'
                       % (10, markup(self.title)))
        for lane in lanes:
            cx = x[lane]
            out.append('<rect x="%d" y="%d" width="%d" height="%d" rx="4" fill="#eef" stroke="#336"/>'
                       % (cx - gap // 2 + 10, top, gap - 20, box_h))
            out.append('<text x="%d" y="%d" text-anchor="middle">%s</text>'
                       % (cx, top + 18, markup(clip(lane, gap // 7))))
            out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999" stroke-dasharray="4 3"/>'
                       % (cx, top + box_h, cx, bottom))
        for i, (moment, source, target, label, event) in enumerate(self.arrows):
            y = first + i * step
            kind = event.get("kind")
            dash = ' stroke-dasharray="6 3"' if kind in ("open", "eof", "close") else ""
            out.append('<g class="arrow" data-kind="%s"><title>%s</title>'
                       % (markup(kind or "message"), markup(_tooltip(event))))
            out.append('<text x="8" y="%d" fill="#666">%s</text>' % (y + 4, markup(_relative(moment))))
            x1, x2 = x[source], x[target]
            if x1 == x2:
                out.append('<path d="M %d %d h 30 v 10 h -30" fill="none" stroke="#333"%s '
                           'marker-end="url(#arrow)"/>' % (x1, y - 5, dash))
                out.append('<text x="%d" y="%d">%s</text>' % (x1 + 36, y + 4, markup(label)))
            else:
                out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"%s marker-end="url(#arrow)"/>'
                           % (x1, y, x2, y, dash))
                out.append('<text x="%d" y="%d" text-anchor="middle">%s</text>'
                           % ((x1 + x2) // 2, y - 5, markup(label)))
            out.append("</g>")
        if self.more:
            out.append('<text x="%d" y="%d" fill="#666">… %d more events</text>'
                       % (left, first + step * len(self.arrows), self.more))
        out.append("</svg>")
        return "\n".join(out)


def sequence_diagram(events: Any, title: Optional[str] = None,
                     max_arrows: int = MAX_ARROWS) -> SequenceDiagram:
    """The sequence diagram of a trace: events is a list of event dicts
    (a server's or a chat's ``trace_events()``, or the server or chat
    itself). Each event is an arrow from its "from" to its "to" ("client"
    is the lane of the event's peer address, "server" the lane of its
    service, or "this chat"; another name is a lane of that name): "open" is the client's connect (SYN), "message" carries
    its summary, "eof" is a side's FIN (it sends no more), "close" the
    server closing the connection. At most max_arrows arrows are drawn,
    then the number of events left out."""
    if hasattr(events, "trace_events"):
        events = events.trace_events()
    return SequenceDiagram(events, title, max_arrows)


def wait_trace(server: Any, kind: str = "close", count: int = 1,
               timeout: float = 5.0) -> List[Dict[str, Any]]:
    """A traced server's events once it has recorded count events of this
    kind ("close": the server closed count connections), waiting at most
    timeout seconds; TimeoutError after that. The server records an event
    when it happens, so a client that has just closed its socket may get
    here before the server read its FIN."""
    deadline = time.monotonic() + timeout
    while True:
        events: List[Dict[str, Any]] = server.trace_events()
        seen = sum(1 for event in events if event.get("kind") == kind)
        if seen >= count:
            return events
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("%d %r events traced in %s s, not %d" % (seen, kind, timeout, count))
        time.sleep(min(0.01, left))
