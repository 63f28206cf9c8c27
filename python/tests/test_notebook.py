"""examples/reseau_course.ipynb runs top to bottom in a fresh kernel (the
venv's own Python, through ipykernel), with a time limit on each cell, and
every cell that prints something says what the notebook's text expects."""

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import EXAMPLES

NOTEBOOK = EXAMPLES / "reseau_course.ipynb"
CELL_TIMEOUT = 60


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


def test_notebook_runs_without_error(executed):
    for cell in executed.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "error"], cell.source


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


def test_notebook_refuses_the_evil_pickle_instead_of_running_it(executed):
    text = "\n".join(outputs(executed))
    assert "refused:" in text
    assert "this would run on the server\n" not in text


def test_notebook_is_saved_without_outputs():
    """The committed notebook is clean: outputs come from running it."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_notebook_uses_port_0_everywhere():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    source = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    for fixed in ("6000", "6001", "5000", "8080"):
        assert "port=" + fixed not in source
    assert "port=0" in source

