"""The REST API inside `reelbot up`: served in the same process as the gallery, on the same
Redis, database and media folder, at REELBOT_API_HOST and REELBOT_API_PORT (any free port
when that one is taken)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import SettingsError

from api.app import build_context, close_context, serving
from api.settings import ApiSettings
from core.settings_errors import settings_error


def api_settings(**fixed: object) -> ApiSettings:
    """The API's settings from the environment and `.env`, with what `up` decided fixed."""
    try:
        return ApiSettings(**fixed)  # type: ignore[arg-type]
    except (ValidationError, SettingsError) as exc:
        raise settings_error(exc) from None


async def start_api(
    stack: contextlib.AsyncExitStack,
    *,
    choose_port: Callable[[str, int], int],
    redis_url: str,
    data_dir: Path,
    database_url: str,
    media_dir: Path,
    public_url: str,
    backend: str,
) -> str:
    """Serve the API until `stack` closes; its URL."""
    settings = api_settings(
        data_dir=data_dir,
        database_url=database_url,
        media_dir=media_dir,
        redis_url=redis_url,
        public_url=public_url,
        backend=backend,
    )
    port = choose_port(settings.api_host, settings.api_port)
    settings = settings.model_copy(update={"api_port": port})
    ctx = await build_context(settings, redis_url=redis_url)
    stack.push_async_callback(close_context, ctx)
    await stack.enter_async_context(serving(ctx, settings.api_host, port))
    return ctx.api_url
