"""examples/reseau_course.ipynb runs top to bottom in a fresh kernel (the
venv's own Python, through ipykernel), with a time limit on each cell, and
every cell that shows something shows what the notebook's text expects:
the course's results, the explained bytes, the sequence diagrams."""

import ast
import xml.etree.ElementTree as ET

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import EXAMPLES

NOTEBOOK = EXAMPLES / "reseau_course.ipynb"
CELL_TIMEOUT = 60
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    workdir = tmp_path_factory.mktemp("notebook")
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    return nb


def outputs(nb):
    """The text each code cell printed, in order."""
    texts = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            texts.append("".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream"))
    return texts


def cell(nb, marker):
    """The one code cell whose source has marker."""
    found = [c for c in nb.cells if c.cell_type == "code" and marker in c.source]
    assert len(found) == 1, marker
    return found[0]


def printed(nb, marker):
    """The lines a cell printed."""
    return "".join(o.get("text", "") for o in cell(nb, marker).outputs
                   if o.output_type == "stream").splitlines()


def shown(nb, marker, mime):
    """What a cell's last expression shows as mime (its execute_result)."""
    results = [o for o in cell(nb, marker).outputs if o.output_type == "execute_result"]
    assert len(results) == 1, marker
    return results[0]["data"][mime]


def table_fields(text):
    """The field column of an explanation's text table (without verdicts)."""
    lines = text.splitlines()
    column = lines[0].index("field")
    return [line[column:].split()[0] for line in lines[1:] if not line.startswith("=> ")]


def arrows(svg):
    """The kinds of a sequence diagram's arrows, top to bottom."""
    root = ET.fromstring(svg)
    return [g.get("data-kind") for g in root.iter(SVG + "g") if g.get("class") == "arrow"]


def test_notebook_runs_without_error(executed):
    for c in executed.cells:
        if c.cell_type == "code":
            assert not [o for o in c.outputs if o.output_type == "error"], c.source


def test_notebook_shows_the_course_results(executed):
    text = "\n".join(outputs(executed))
    for expected in [
        "[b'first', b'second']",
        "[1, 2, 3] 6",
        "42",
        "5050",
        "499999500000",
        "b'Hello World!'",
        "('Bonjour Bob !', ",
        "('Salut Alice !', ",
        "{'users': ['CBF', 'LUR', 'VRL']}",
        "{'OK': True}",
        "{'sum': 6}",
        "{'users': ['CBF', 'LUR', 'VRL', 'Ada']}",
    ]:
        assert expected in text
    # The sums are printed alone on their lines: "42" must not be found
    # inside a port number.
    lines = text.splitlines()
    for number in ["42", "6", "5050", "499999500000"]:
        assert number in lines, number


def test_notebook_looks_localhost_up(executed):
    assert printed(executed, 'gethostbyname("localhost")')[0] == "127.0.0.1"


def test_notebook_chat_joins_a_peer_by_name(executed):
    assert printed(executed, 'alice.join("localhost"')[0] == "True"


def test_notebook_draws_the_chat_datagrams(executed):
    assert arrows(shown(executed, "sequence_diagram(alice.trace_events()", "image/svg+xml")) == ["message", "message"]


def test_notebook_echo_client_gets_its_bytes_back(executed):
    assert printed(executed, "c.shutdown(socket.SHUT_WR)") == ["b'Hello World!'"]


def test_notebook_traces_the_echo_exchange(executed):
    events = ast.literal_eval(printed(executed, "echo_events = wait_trace")[0])
    assert events == [("client", "open", 0), ("client", "message", 12), ("server", "message", 12),
                      ("client", "eof", 0), ("server", "close", 0)]


def test_notebook_draws_the_echo_exchange(executed):
    svg = shown(executed, "echo_events = wait_trace", "image/svg+xml")
    assert arrows(svg) == ["open", "message", "message", "eof", "close"]


def test_notebook_prints_the_slides_pickle_of_12(executed):
    assert printed(executed, "print(pickle.dumps(data, protocol=3))") == [
        "b'12'", "b'\\x80\\x03K\\x0c.'", "b'\\x0c\\x00\\x00\\x00'"]


def test_notebook_explains_a_request_field_by_field(executed):
    text = shown(executed, "msg = pickle.dumps([1, 2, 300], protocol=2)", "text/plain")
    assert table_fields(text) == ["length", "PROTO", "EMPTY_LIST", "BINPUT", "MARK", "BININT1",
                                  "BININT1", "BININT2", "APPENDS", "STOP"]


def test_notebook_explains_a_request_in_html(executed):
    html = shown(executed, "msg = pickle.dumps([1, 2, 300], protocol=2)", "text/html")
    assert html.count("<tr>") == 1 + 10 + 1  # the header, the rows, the verdict


def test_notebook_explains_a_request_at_every_protocol(executed):
    lines = printed(executed, "for protocol in range(6):")
    assert [line.split()[0] for line in lines] == ["0", "1", "2", "3", "4", "5"]
    assert [line.rsplit(None, 1)[1] for line in lines] == ["303"] * 6


def test_notebook_explains_protocol_0_as_text(executed):
    fields = table_fields("\n".join(printed(executed, "msg = pickle.dumps([1, 2, 300], protocol=0)")))
    assert fields == ["length", "MARK", "LIST", "PUT", "INT", "APPEND", "INT", "APPEND", "INT",
                      "APPEND", "STOP"]


def test_notebook_explains_where_the_evil_pickle_is_refused(executed):
    verdict, offset, byte = printed(executed, "refusal = explain(evil_request)")[0].split()
    assert (verdict, byte) == ("refused", "b'c'")


def test_notebook_refuses_the_evil_pickle_instead_of_running_it(executed):
    text = "\n".join(outputs(executed))
    assert "refused:" in text
    assert "this would run on the server\n" not in text


def test_notebook_course_client_gets_the_sum(executed):
    assert printed(executed, "sent_request, reply = compute([10, 20, 12])") == ["42"]


def test_notebook_explains_the_reply(executed):
    text = shown(executed, "explain(reply, reply=True)", "text/plain")
    assert table_fields(text) == ["reply"] and "42" in text.splitlines()[1]


def test_notebook_traces_the_adder_exchange(executed):
    events = ast.literal_eval(printed(executed, 'adder_events = wait_trace(server, "close")')[0])
    assert events == [("client", "open"), ("client", "message"), ("server", "message"),
                      ("server", "close")]


def test_notebook_draws_the_adder_exchange(executed):
    svg = shown(executed, 'adder_events = wait_trace(server, "close")', "image/svg+xml")
    assert arrows(svg) == ["open", "message", "message", "close"]


def test_notebook_the_server_answers_the_evil_pickle_with_nothing(executed):
    assert printed(executed, "s.sendall(evil_request)")[0] == "b''"


def test_notebook_traces_the_refused_request(executed):
    events = ast.literal_eval(printed(executed, "s.sendall(evil_request)")[1])
    assert events == [("client", "open"), ("client", "message"), ("server", "close")]


def test_notebook_draws_the_sum_then_the_refused_request(executed):
    svg = shown(executed, "s.sendall(evil_request)", "image/svg+xml")
    assert arrows(svg) == ["open", "message", "message", "close", "open", "message", "close"]


def test_notebook_explains_the_native_format(executed):
    text = shown(executed, "explain(reseau.encode_sum_request", "text/plain")
    assert table_fields(text) == ["length", "magic", "version", "int", "int", "int"]


def test_notebook_is_saved_without_outputs():
    """The committed notebook is clean: outputs come from running it."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for c in nb.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None


def test_notebook_uses_port_0_everywhere():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for fixed in ("6000", "6001", "5000", "8080"):
        assert "port=" + fixed not in source
    assert "port=0" in source
