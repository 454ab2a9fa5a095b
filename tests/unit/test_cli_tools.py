"""`orderinfo seed|verify|run` load tools/ lazily; where tools/ is not installed (the service image) they say so."""

from __future__ import annotations

import argparse

import pytest

from services import cli


def test_a_command_whose_tools_are_not_installed_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing(args: argparse.Namespace) -> int:
        raise ModuleNotFoundError("No module named 'tools'", name="tools")

    monkeypatch.setattr(cli, "_seed", missing)
    assert cli.main(["seed", "--orders", "1"]) == 2
    assert "orderinfo seed: needs tools/ from a checkout" in capsys.readouterr().err


def test_other_missing_modules_are_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(args: argparse.Namespace) -> int:
        raise ModuleNotFoundError("No module named 'openpyxl'", name="openpyxl")

    monkeypatch.setattr(cli, "_seed", missing)
    with pytest.raises(ModuleNotFoundError):
        cli.main(["seed", "--orders", "1"])


@pytest.mark.parametrize(
    ("given", "passed"),
    [
        ([], ["--consumers", "1"]),
        (["--consumers", "2"], ["--consumers", "2"]),
        (["--no-restarts", "--consumers", "2"], ["--consumers", "2", "--no-restarts"]),
    ],
)
def test_verify_takes_its_options_first(monkeypatch: pytest.MonkeyPatch, given: list[str], passed: list[str]) -> None:
    """`orderinfo verify --consumers 2`, as the README says (the options were refused when they came first)."""
    from tools.verification import cli as verification

    seen: list[list[str]] = []
    monkeypatch.setattr(verification, "main_verify", lambda argv: seen.append(list(argv)) or 0)
    assert cli.main(["verify", *given]) == 0
    assert seen == [passed]


@pytest.mark.parametrize("given", ["0", "-1", "9", "abc", ""])
def test_verify_refuses_a_count_of_consumers_it_would_not_run(given: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["verify", "--consumers", given])
    assert exited.value.code == 2
    assert "expected a whole number of processes from 1 to 8" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["", "   ", "shop\x01", "x" * 65])
def test_a_tenant_name_no_page_can_show_is_refused_before_the_database(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`orderinfo tenant create ""` made a tenant without a name (and one of control characters or of any length),
    which the console and the key listings then show as nothing; now it is refused as key names are."""
    monkeypatch.setattr(cli, "_on_database", lambda work: pytest.fail("the database was asked"))
    assert cli.main(["tenant", "create", name]) == 2
    assert "orderinfo tenant create: name: expected 1 to 64 printable characters" in capsys.readouterr().err
