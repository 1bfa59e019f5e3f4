"""`python -m worker` (also `reelbot worker`): one arq worker process for one device."""

from __future__ import annotations

import logging
import sys


def main() -> int:
    from arq.worker import Worker

    from core.logs import configure_logging
    from worker.settings import WorkerConfig
    from worker.tasks import worker_settings

    try:  # JSON lines unless stderr is a terminal (REELBOT_LOG_FORMAT overrides)
        configure_logging(logging.INFO)
    except ValueError as exc:
        print(f"reelbot worker: bad settings: {exc}", file=sys.stderr)
        return 2
    # diffusers and transformers log truncated prompts at WARNING; prompts belong at DEBUG.
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()
    from pydantic import ValidationError

    from core.capabilities import capabilities_for

    # Settings problems exit with 2, which `reelbot up` takes as "don't restart me".
    try:
        config = WorkerConfig()
        capabilities_for(config.backend)
        kwargs = worker_settings(config)
    except (ValidationError, ValueError, RuntimeError) as exc:
        print(f"reelbot worker: bad settings: {exc}", file=sys.stderr)
        return 2
    Worker(**kwargs).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
