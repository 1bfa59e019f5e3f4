"""The bot runs on uvloop where it is installed, and on the standard loop where it is not."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import pytest

from bot import eventloop

uvloop = pytest.importorskip("uvloop", reason="uvloop is not made for Windows")


async def loop_type() -> type:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop())


def test_the_bot_loop_is_uvloop_when_installed() -> None:
    assert eventloop.run(loop_type()) is uvloop.Loop


def test_without_uvloop_the_standard_loop_runs(monkeypatch: Any) -> None:
    real_import = builtins.__import__

    def no_uvloop(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uvloop":
            raise ImportError("no uvloop on this platform")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    assert eventloop.run(loop_type()) is not uvloop.Loop
    assert issubclass(eventloop.run(loop_type()), asyncio.BaseEventLoop)
