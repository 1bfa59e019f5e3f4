"""What a feature module of the API hands `api.app`: its routes, their OpenAPI operations, and
the background loops it needs (each `async def loop(ctx)`, run while the app is served)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from api.context import ApiContext
from api.openapi import Operations

Loop = Callable[[ApiContext], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Feature:
    routes: web.RouteTableDef
    operations: Operations = field(default_factory=Operations)
    loops: tuple[Loop, ...] = ()
