"""`reseau.parse_command`: one line typed in the chat, split as the
course splits it (`line.rstrip() + ' '`, the command up to the first space,
the parameter the rest, right-stripped). A line that is no valid command
raises `reseau.CommandError`, a `reseau.ProtocolError`.
"""

import pytest

import reseau


def course_split(line):
    """The course's own split, from its Chat.run()."""
    line = line.rstrip() + " "
    command = line[:line.index(" ")]
    param = line[line.index(" ") + 1:].rstrip()
    return command, param


def test_exit_quit_and_help_have_no_arguments():
    for name in ("exit", "quit", "help"):
        command = reseau.parse_command("/" + name)
        assert command.name == name
        assert command.host is None
        assert command.port is None
        assert command.text is None


def test_join_gives_host_and_port():
    command = reseau.parse_command("/join localhost 5000")
    assert (command.name, command.host, command.port, command.text) == ("join", "localhost", 5000, None)
    assert type(command.port) is int


def test_join_takes_an_ipv6_address():
    command = reseau.parse_command("/join ::1 65535")
    assert (command.host, command.port) == ("::1", 65535)


def test_send_gives_the_text():
    command = reseau.parse_command("/send Hello World!")
    assert (command.name, command.host, command.port, command.text) == ("send", None, None, "Hello World!")


@pytest.mark.parametrize("line", [
    "/send Hello World!",
    "/send Hello World!   \n",
    "/send  two spaces kept at the start",
    "/send émoji ✓ and accents: où, à, ç",
    "/join 127.0.0.1 5001\n",
    "/exit\n",
])
def test_lines_are_split_as_the_course_splits_them(line):
    name, param = course_split(line)
    command = reseau.parse_command(line)
    assert "/" + command.name == name
    if command.name == "send":
        assert command.text == param
    elif command.name == "join":
        assert "%s %d" % (command.host, command.port) == param
    else:
        assert param == ""


@pytest.mark.parametrize("line", [
    "",                       # the course prints `Unknown command: `
    "hello",
    "/shout hi",
    "/EXIT",
    "/send",                  # missing text
    "/send    ",
    "/join",                  # missing host and port
    "/join localhost",        # missing port
    "/join localhost 5000 6000",
    "/join localhost 0",      # ports are 1 to 65535
    "/join localhost 65536",
    "/join localhost -1",
    "/join localhost five",
    "/exit now",
    "/quit please",
])
def test_bad_lines_raise_command_error(line):
    with pytest.raises(reseau.CommandError):
        reseau.parse_command(line)


def test_text_that_no_datagram_can_carry_is_refused():
    reseau.parse_command("/send " + "x" * 65507)
    with pytest.raises(reseau.CommandError):
        reseau.parse_command("/send " + "x" * 65508)


def test_command_error_is_a_protocol_error_and_a_value_error():
    with pytest.raises(reseau.ProtocolError):
        reseau.parse_command("/nope")
    with pytest.raises(ValueError):
        reseau.parse_command("/nope")


def test_command_error_explains_the_mistake():
    with pytest.raises(reseau.CommandError, match="65536"):
        reseau.parse_command("/join localhost 65536")


@pytest.mark.parametrize("bad", [None, 5, b"/exit", ["/exit"]])
def test_parse_command_takes_only_str(bad):
    with pytest.raises(TypeError):
        reseau.parse_command(bad)
