"""`help(reseau.X)` explains every name of the API: each function, class,
method and exception has a docstring, and the package ships its type stubs
(`py.typed` and `.pyi` files, which python/run_tests.sh checks against
the module with mypy.stubtest)."""

import inspect
from pathlib import Path

import pytest

import reseau

FUNCTIONS = ["encode_frame", "encode_sum_request", "decode_sum_request",
             "decode_sum_request_array", "sum_request",
             "parse_command", "sum", "explain", "explain_rows", "sequence_diagram", "wait_trace",
             "resolve"]
CLASSES = ["FrameDecoder", "AdderServer", "EchoServer", "EchoClient", "Chat", "WebServer",
           "Explanation", "SequenceDiagram"]
EXCEPTIONS = ["ProtocolError", "FrameTooLarge", "MalformedRequest", "PickleError",
              "CommandError", "SumRefused"]


@pytest.mark.parametrize("name", FUNCTIONS + CLASSES + EXCEPTIONS)
def test_every_name_has_a_docstring(name):
    doc = getattr(reseau, name).__doc__
    assert doc and len(doc.strip()) > 20, name


@pytest.mark.parametrize("name", CLASSES)
def test_every_public_method_has_a_docstring(name):
    cls = getattr(reseau, name)
    for attr, value in vars(cls).items():
        if attr.startswith("_") or not callable(value):
            continue
        assert value.__doc__, "%s.%s" % (name, attr)


def test_server_methods_are_documented():
    for name in ("AdderServer", "EchoServer", "WebServer"):
        cls = getattr(reseau, name)
        for method in ("run", "start", "stop"):
            assert getattr(cls, method).__doc__, "%s.%s" % (name, method)


def test_command_has_its_attributes():
    command = reseau.parse_command("/send hi")
    for attr in ("name", "host", "port", "text"):
        assert hasattr(command, attr)


def test_help_runs_on_the_module():
    text = []
    import pydoc
    text.append(pydoc.render_doc(reseau, renderer=pydoc.plaintext))
    assert "AdderServer" in text[0] and "encode_sum_request" in text[0]


def test_package_ships_py_typed_and_stubs():
    package = Path(inspect.getfile(reseau)).parent
    assert (package / "py.typed").exists()
    assert list(package.glob("*.pyi")), "no .pyi stub in %s" % package


def test_the_readme_example_runs():
    # python/README.md's example, as a reader would paste it.
    from conftest import REPO
    text = (REPO / "python" / "README.md").read_text(encoding="utf-8")
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(block, "python/README.md", "exec"), {})
