"""Pure functions of the runtime API: word splitting, usage messages, ids."""

from __future__ import annotations

from pyhaproxy.runtime import basic, notyet, servers, show  # noqa: F401
from pyhaproxy.runtime.cli import split_words
from pyhaproxy.runtime.commands import find, usage_message
from pyhaproxy.runtime.servers import _strtol

notyet.register()


def test_split_words_escapes_and_payload():
    assert split_words("set  server\tbe/s1 state ready") == (
        ["set", "server", "be/s1", "state", "ready"],
        None,
    )
    assert split_words(r"add map m a\ b") == (["add", "map", "m", "a b"], None)
    assert split_words(r"x a\\b") == (["x", "a\\b"], None)
    assert split_words("add map m <<\0k v\nk2 v2") == (["add", "map", "m"], "k v\nk2 v2")


def test_find_picks_the_command_by_its_words():
    assert find(["get", "weight", "be/s1"]).words == ("get", "weight")
    assert find(["show", "servers", "state"]).words == ("show", "servers", "state")
    assert find(["nothing"]) is None


def test_usage_message_shapes():
    assert usage_message(["help"]).startswith("The following commands are valid at this level:\n")
    assert usage_message([""]).startswith("Unknown command. Please enter one of the following")
    text = usage_message(["shutdown", "sessions"])
    assert text.splitlines()[1].startswith("  shutdown sessions server <bk>/<srv>")
    assert text.endswith("  quit                                    : disconnect\n")


def test_strtol_as_c():
    assert _strtol(" 12x") == (12, "x")
    assert _strtol("-3") == (-3, "")
    assert _strtol("abc") == (None, "abc")
