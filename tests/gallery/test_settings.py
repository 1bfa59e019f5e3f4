"""Settings: defaults that work with no configuration, REELBOT_ variables, subclassing."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from gallery.settings import GallerySettings


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    settings = GallerySettings()
    assert settings.resolved_database_url() == "sqlite:///reelbot-data/reelbot.db"
    assert settings.resolved_media_dir() == Path("reelbot-data/media")
    assert settings.resolved_public_url() == "http://127.0.0.1:8080"


def test_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "REELBOT_DATA_DIR=/srv/reel\nREELBOT_PUBLIC_URL=https://clips.example/\nOTHER=1\n"
    )
    monkeypatch.setenv("REELBOT_GALLERY_PORT", "9000")
    monkeypatch.setenv("REELBOT_MEDIA_DIR", "/mnt/media")
    settings = GallerySettings()
    assert settings.gallery_port == 9000
    assert settings.resolved_database_url() == "sqlite:////srv/reel/reelbot.db"
    assert settings.resolved_media_dir() == Path("/mnt/media")
    assert settings.resolved_public_url() == "https://clips.example"


def test_other_processes_subclass_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REELBOT_DATABASE_URL", "postgresql://db/reelbot")
    monkeypatch.setenv("REELBOT_REDIS_URL", "redis://r:6379")

    class WorkerSettings(GallerySettings):
        redis_url: str = "redis://localhost:6379"

    settings = WorkerSettings(gallery_host="::1")
    assert settings.redis_url == "redis://r:6379"
    assert settings.resolved_database_url() == "postgresql://db/reelbot"
    assert settings.resolved_public_url() == "http://[::1]:8080"


def test_the_admin_token_must_be_long(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert GallerySettings().resolved_admin_token() is None
    assert GallerySettings(admin_token="").resolved_admin_token() is None  # `VAR=`: off
    assert GallerySettings(admin_token="a" * 32).resolved_admin_token() == "a" * 32
    with pytest.raises(ConfigError, match=r"^REELBOT_ADMIN_TOKEN: 31 characters is too short"):
        GallerySettings(admin_token="a" * 31).resolved_admin_token()


def test_metrics_have_a_port_of_their_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert GallerySettings().gallery_metrics_port is None  # off unless asked for
    monkeypatch.setenv("REELBOT_GALLERY_METRICS_PORT", "9102")
    assert GallerySettings().gallery_metrics_port == 9102
