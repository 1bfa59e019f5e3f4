"""Logging for the bot's entry points: the same JSON-or-text setup as the workers'.

The formatter lives in `worker.logs` (the worker may not import bot, and both must log alike).
"""

from __future__ import annotations

from worker.logs import GENERATION_ID, JsonFormatter, configure_logging, log_format

__all__ = ["GENERATION_ID", "JsonFormatter", "configure_logging", "log_format"]
