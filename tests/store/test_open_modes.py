"""Opening a store: commands that read refuse a store that does not exist; only loading data creates one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from marketloop.cli.main import app
from marketloop.errors import NotFoundError
from marketloop.store import open_store

#: Every command that takes --db, with the arguments it needs to reach the store. A new command with --db must
#: be listed here (in READING or CREATING), so nobody adds one that makes empty stores by accident.
READING: dict[str, list[str]] = {
    "db status": [],
    "analyze": [],
    "segments": [],
    "customers show": ["C1"],
    "recs train": [],
    "recs show": ["C1"],
    "recs similar": ["P1"],
    "recs trending": [],
    "recs session": ["S1"],
    "recs models": [],
    "recs promote": ["als", "1"],
    "recs rollback": ["als"],
    "copy preview": ["--customer", "C1"],
    "copy demo": [],
    "reviews analyze": [],
    "reviews show": [],
    "assistant chat": [],
    "assistant ask": ["where is my order?"],
    "campaign plan": ["{goal}"],
    "campaign show": ["X"],
    "campaign approve": ["X"],
    "campaign fairness": ["X"],
    "campaign launch": ["X", "--no-dispatch"],
    "campaign dispatch": ["X", "--sim", "{sim}"],
    "campaign status": ["X"],
    "campaign pause": ["X"],
    "campaign resume": ["X"],
    "campaign report": ["X", "--out", "{tmp}/r.html"],
    "keys create": ["ana"],
    "keys list": [],
    "keys revoke": ["k1"],
    "privacy forget": ["C1", "--yes"],
    "forecast train": [],
    "forecast show": [],
    "forecast stock": [],
    "forecast eval": [],
    "eval forecast": [],
    "ads audience": ["a", "--out", "{tmp}/a.csv"],
    "serve": ["--port", "1"],
    "worker": ["--once", "--sim", "{sim}"],
}
CREATING = {
    "db migrate",
    "ingest",
    "import uci-online-retail",
    "import cdnow",
    "import taobao",
    "import reviews",
    "import interactions",
    "sim generate",
    "sim load",
}


def _commands_with_db() -> set[str]:
    found: set[str] = set()

    def walk(command, path: list[str]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        elif any(p.name == "db" for p in command.params):
            found.add(" ".join(path))

    walk(typer.main.get_command(app), [])
    return found


def test_every_command_with_a_store_is_classified() -> None:
    assert _commands_with_db() == set(READING) | CREATING


def _args(command: str, extra: list[str], tmp_path: Path) -> list[str]:
    goal = tmp_path / "goal.toml"
    goal.write_text('name = "x"\nobjective = "conversions"\n')
    (tmp_path / "sim").mkdir(exist_ok=True)
    fill = {"{goal}": str(goal), "{sim}": str(tmp_path / "sim"), "{tmp}": str(tmp_path)}
    out = []
    for arg in extra:
        for key, value in fill.items():
            arg = arg.replace(key, value)
        out.append(arg)
    return [*command.split(), *out]


@pytest.mark.parametrize("command", sorted(READING))
def test_reading_commands_refuse_a_missing_store_and_create_nothing(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    typo = tmp_path / "typo" / "stroe.duckdb"
    result = CliRunner().invoke(app, [*_args(command, READING[command], tmp_path), "--db", f"duckdb:///{typo}"])
    assert isinstance(result.exception, NotFoundError), (command, result.output, result.exception)
    assert f"no store at {typo}: the file does not exist (store URL from --db)" in result.exception.message
    assert "marketloop db migrate" in (result.exception.hint or "")
    assert not typo.parent.exists(), f"{command} created {typo.parent}"


@pytest.mark.parametrize("command", ["segments", "campaign show", "keys list"])
def test_without_db_the_default_store_is_not_created(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MARKETLOOP_DB_URL")
    result = CliRunner().invoke(app, _args(command, READING[command], tmp_path))
    assert isinstance(result.exception, NotFoundError), result.output
    assert "marketloop.duckdb: the file does not exist (store URL from the default" in result.exception.message
    assert not (tmp_path / "marketloop.duckdb").exists()


def test_the_environment_is_named_as_the_origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETLOOP_DB_URL", f"duckdb:///{tmp_path / 'env.duckdb'}")
    result = CliRunner().invoke(app, ["segments"])
    assert "(store URL from MARKETLOOP_DB_URL)" in result.exception.message


def test_db_migrate_and_create_make_the_store_and_then_reading_works(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"duckdb:///{tmp_path / 'new' / 'store.duckdb'}"
    created = runner.invoke(app, ["db", "migrate", "--db", url])
    assert created.exit_code == 0, created.output
    assert runner.invoke(app, ["db", "status", "--db", url]).exit_code == 0
    other = f"duckdb:///{tmp_path / 'keys.duckdb'}"
    key = runner.invoke(app, ["keys", "create", "ana", "--create", "--db", other, "--json"])
    assert key.exit_code == 0, key.output
    assert (tmp_path / "keys.duckdb").is_file()


def test_a_database_without_marketloop_tables_is_not_a_store(any_store_url: str, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="has no MarketLoop tables|the file does not exist") as raised:
        open_store(any_store_url, create=False)
    assert "marketloop db migrate" in (raised.value.hint or "")
    with open_store(any_store_url) as store:  # the default for library callers: create
        assert store.count("customers") == 0
    with open_store(any_store_url, create=False) as store:
        assert store.count("customers") == 0


def test_a_duckdb_file_of_another_application_is_left_alone(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "theirs.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE notes (x INTEGER)")
    with pytest.raises(NotFoundError, match="has no MarketLoop tables"):
        open_store(f"duckdb:///{path}", create=False)
    with duckdb.connect(str(path)) as conn:
        assert [r[0] for r in conn.execute("SHOW TABLES").fetchall()] == ["notes"]


def test_cli_modules_open_stores_only_through_the_one_helper() -> None:
    """The read / create decision lives in `cli.common.open_cli_store`; no command calls `open_store` itself."""
    cli = Path(__import__("marketloop.cli", fromlist=["x"]).__file__).parent
    offenders = []
    for path in sorted(cli.glob("*.py")):
        if path.name == "common.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "open_store":
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
