"""`reelbot token create|list|revoke` as an operator runs them, on this install's database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from gallery.api_tokens import TokenStore
from gallery.db import make_engine
from gallery.moderation import ModerationStore

TOKEN = re.compile(r"rb_[a-z0-9]{12}_[A-Za-z0-9_-]{43}")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite file named by REELBOT_DATABASE_URL, read from a folder with no `.env`."""
    url = f"sqlite:///{tmp_path / 'reelbot.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REELBOT_DATABASE_URL", url)
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["token", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_create_prints_the_token_and_webhook_secret_once_and_it_verifies(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "create",
        "--member",
        "123456789",
        "--guild",
        "77",
        "--name",
        "my-site",
        "--scopes",
        "clips:write clips:read",
    )
    assert (code, err) == (0, "")
    plaintext = TOKEN.search(out)
    assert plaintext is not None
    assert re.search(r"^  whsec_\S+$", out, re.M)
    assert "won't be shown again" in out

    code, listed, _ = run(capsys, "list")
    assert code == 0 and "my-site" in listed and "never" in listed  # not used yet
    assert plaintext.group() not in listed and "whsec_" not in listed

    engine = make_engine(database)
    try:
        token = TokenStore(engine).verify(plaintext.group())
        assert token is not None
        assert (token.member_id, token.guild_id, token.name) == ("discord:123456789", 77, "my-site")
        assert token.scopes == "clips:read clips:write"
        audit = ModerationStore(engine).log(member_id="discord:123456789")
        assert [a.action for a in audit] == ["api_token_create"]
        assert audit[0].moderator_id.startswith("cli:")
    finally:
        engine.dispose()

    code, listed, _ = run(capsys, "list")
    assert code == 0
    assert token.id in listed and "discord:123456789" in listed and "my-site" in listed
    assert "clips:read clips:write" in listed and "never" not in listed  # used just now
    assert plaintext.group() not in listed and "whsec_" not in listed
    assert plaintext.group().split("_", 2)[2] not in listed


def test_list_by_member_and_revoke(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "create", "--member", "discord:1", "--name", "one", "--scopes", "clips:read")
    run(capsys, "create", "--member", "2", "--name", "two", "--scopes", "clips:read")
    code, out, _ = run(capsys, "list", "--member", "1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ID", "MEMBER", "GUILD"]
    assert len(lines) == 2 and "discord:1 " in lines[1] and " one " in lines[1]
    token_id = lines[1].split()[0]

    code, out, err = run(capsys, "revoke", token_id)
    assert code == 0, err
    assert f"Token {token_id} (one, discord:1) is revoked" in out
    assert "it no longer works" in out

    code, out, _ = run(capsys, "list", "--member", "discord:1")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC\s*$", out.splitlines()[1])  # revoked when

    engine = make_engine(database)
    try:
        actions = [a.action for a in ModerationStore(engine).log(member_id="discord:1")]
        assert actions == ["api_token_revoke", "api_token_create"]
    finally:
        engine.dispose()

    code, out, _ = run(capsys, "list", "--member", "3")
    assert (code, out.strip()) == (0, "No tokens for discord:3.")


def test_bad_input_is_one_line_naming_the_fix(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "create", "--member", "1", "--name", "x", "--scopes", "clips:wrte")
    assert code == 2
    assert err.strip() == (
        "reelbot: `clips:wrte` isn't a token scope. Did you mean `clips:write`? "
        "Allowed: `clips:read`, `clips:write`, `webhooks:manage`."
    )
    code, _, err = run(capsys, "create", "--member", "@bob", "--name", "x")
    assert code == 2 and "`@bob` isn't a member id." in err and "discord:" in err
    code, _, err = run(capsys, "create", "--member", "1", "--name", " ")
    assert code == 3 and "Give the token a name" in err
    code, _, err = run(capsys, "revoke", "nosuchtoken1")
    assert code == 3
    assert err.strip() == (
        "reelbot: No token with id `nosuchtoken1`; `reelbot token list` shows every token's id."
    )
    assert run(capsys, "list")[1].strip() == "No tokens."


def test_the_installed_command_runs_it(database: str, tmp_path: Path) -> None:
    """`python -m cli.main token …` in a fresh process, as `reelbot token …` runs."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    made = subprocess.run(
        [sys.executable, "-m", "cli.main", "token", "create", "--member", "5", "--name", "s"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert TOKEN.search(made.stdout)
    assert "scopes: clips:read clips:write" in made.stdout
