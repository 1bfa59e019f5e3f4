"""Where pulled weights live: REELBOT_MODELS_DIR, read as the worker reads it.

Its own module so `reelbot models` and `reelbot models pull` both read it without importing
each other.
"""

from __future__ import annotations

from pathlib import Path


def configured_models_dir() -> Path | None:
    """REELBOT_MODELS_DIR as the worker reads it (the environment, then `.env`)."""
    from jobs.settings import load_settings
    from worker.settings import ModelSettings

    return load_settings(ModelSettings).models_dir
