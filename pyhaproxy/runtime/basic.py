"""``help``, ``prompt``, ``quit``, ``operator``, ``user``, ``show cli level``
(management.txt §9.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyhaproxy.runtime.commands import LEVEL_NAMES, OPERATOR, USER, command, usage_message

if TYPE_CHECKING:
    from pyhaproxy.runtime.cli import CliSession


@command("help")
def _help(sess: CliSession, args: list[str], payload: str | None) -> str:
    return usage_message(args)


@command("prompt")
def _prompt(sess: CliSession, args: list[str], payload: str | None) -> None:
    sess.prompt = not sess.prompt


@command("quit")
def _quit(sess: CliSession, args: list[str], payload: str | None) -> None:
    sess.quit()


@command(
    "operator",
    "operator",
    "lower the level of the current CLI session to operator",
)
def _operator(sess: CliSession, args: list[str], payload: str | None) -> str | None:
    if sess.level < OPERATOR:
        return "Permission denied\n"
    sess.level = OPERATOR
    return None


@command(
    "user",
    "user",
    "lower the level of the current CLI session to user",
)
def _user(sess: CliSession, args: list[str], payload: str | None) -> None:
    sess.level = USER


@command(
    "show cli level",
    "show cli level",
    "display the level of the current CLI session",
)
def _show_level(sess: CliSession, args: list[str], payload: str | None) -> str:
    return LEVEL_NAMES[sess.level] + "\n"
