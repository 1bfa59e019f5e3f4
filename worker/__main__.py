"""`python -m worker` (also `reelbot worker`): one arq worker process for one device.

Exit codes: 2 for bad settings or a model that can't be loaded (its setting named), which
`reelbot up` takes as "don't restart me"; 3 for a Redis or database that can't be reached, which
a restart may fix. Either is one line on stderr that names the setting, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from worker.settings import WorkerConfig

EXIT_BAD_SETTINGS = 2
EXIT_UNAVAILABLE = 3


def main() -> int:
    from core.errors import UserFacingError

    try:
        config = checked_settings()
    except (UserFacingError, ValueError, RuntimeError) as exc:
        for line in str(exc).splitlines():
            print(f"reelbot worker: bad settings: {line}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    from worker.model_sources import ModelLoadError

    try:
        run(config)
    except ModelLoadError as exc:  # a restart would fail the same way: like a bad setting
        print(f"reelbot worker: not ready: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    except UserFacingError as exc:
        print(f"reelbot worker: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0


def checked_settings() -> WorkerConfig:
    """The worker's settings, each checked before anything heavy is imported or opened."""
    from core.capabilities import UnknownBackend, capabilities_for
    from core.errors import ConfigError
    from core.logs import configure_logging
    from gallery.dburl import check_database_url
    from jobs.settings import load_settings
    from worker.settings import WorkerConfig

    configure_logging(logging.INFO)  # JSON lines unless stderr is a terminal (ValueError: bad)
    config = load_settings(WorkerConfig)
    try:
        capabilities_for(config.backend)
    except UnknownBackend as exc:
        raise ConfigError(f"REELBOT_BACKEND: {exc}") from None
    except ImportError as exc:  # an operator's backend module lacks a dependency
        raise ConfigError(
            f"REELBOT_BACKEND: {config.backend} needs the Python module {exc.name!r}, which is "
            "not installed"
        ) from None
    if not config.redis_url:
        raise ConfigError("REELBOT_REDIS_URL: a worker needs it (or run it through `reelbot up`)")
    check_database_url(config.resolved_database_url())
    from core.stylefile import StyleFile

    StyleFile.from_file(config.styles_file)  # a bad styles file: one line per problem, exit 2
    return config


def run(config: WorkerConfig) -> None:
    """Serve jobs until stopped; a Redis or database out of reach is a UserFacingError."""
    from arq.worker import Worker
    from diffusers.utils import logging as diffusers_logging
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from transformers.utils import logging as transformers_logging

    from core.errors import UserFacingError
    from core.redaction import redact_text, redact_url
    from gallery.dburl import reaching_database
    from worker.tasks import worker_settings

    # diffusers and transformers log truncated prompts at WARNING; prompts belong at DEBUG.
    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()
    try:
        with reaching_database(config.resolved_database_url()):
            Worker(**worker_settings(config)).run()
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise UserFacingError(
            f"can't reach Redis at {redact_url(config.redis_url or '')} "
            f"({redact_text(str(exc))}); start it, or fix REELBOT_REDIS_URL"
        ) from None


if __name__ == "__main__":
    sys.exit(main())
