"""Help that speaks to officials (issue 17 item 2): every `zhengai` subcommand's --help, nested ones included,
opens with a Chinese line, and every option that has a default shows it."""

from __future__ import annotations

import argparse
import re

import pytest

from pipelines.cli import build_parser, localise, main

CJK = re.compile(r"[\u4e00-\u9fff]")


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(path, parser) of every subcommand under `parser`, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                yield (*path, name), command
                yield from commands(command, (*path, name))


def options(command: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in command._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def flat(text: str) -> str:
    """Help text with argparse's line wrapping undone."""
    return re.sub(r"\s+", " ", text)


ALL = list(commands(build_parser()))


def test_the_tree_holds_every_top_level_command_and_the_nested_ones():
    names = {" ".join(path) for path, _ in ALL}
    assert {"run", "synth", "serve", "tokens", "tokens issue", "demo-check", "catalog", "catalog map"} <= names


@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(path) for path, _ in ALL])
def test_every_subcommand_help_is_chinese_and_shows_its_defaults(path, command):
    text = command.format_help()
    assert CJK.search(command.description or ""), f"zhengai {' '.join(path)} --help has no Chinese heading"
    assert "显示本帮助并退出" in text and "选项 options" in text
    for action in options(command):
        if action.help and action.default not in (None, False, "", argparse.SUPPRESS):
            assert f"（默认 default: {action.default}）" in flat(text), (path, action.dest)
        assert CJK.search(action.help or ""), f"zhengai {' '.join(path)}: {action.dest} has no Chinese help"


def test_the_check_finds_english_help_and_hidden_defaults():
    """A parser left as argparse builds it fails both checks; localise() is what makes it pass."""
    parser = argparse.ArgumentParser(prog="zhengai")
    sub = parser.add_subparsers(dest="command")
    english = sub.add_parser("english", help="an English line")
    english.add_argument("--port", type=int, default=8000, help="port")
    text = flat(english.format_help())
    assert "默认" not in text and not CJK.search(english.description or "") and "显示本帮助并退出" not in text
    chinese = sub.add_parser("chinese", help="中文说明 / a Chinese line")
    chinese.add_argument("--port", type=int, default=8000, help="端口 / port")
    localise(parser)
    assert CJK.search(chinese.description) and "（默认 default: 8000）" in flat(chinese.format_help())


def test_help_prints_and_exits_zero(capsys):
    with pytest.raises(SystemExit) as exit_code:
        main(["serve", "--help"])
    assert exit_code.value.code == 0
    assert "端口 / port（默认 default: 8000）" in flat(capsys.readouterr().out)
