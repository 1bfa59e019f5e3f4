"""`/v1/clips`: ask for a clip, read one, cancel one, list a member's (filled in next)."""

from __future__ import annotations

from aiohttp import web

from api.feature import Feature
from api.openapi import Operations

routes = web.RouteTableDef()
operations = Operations()
FEATURE = Feature(routes, operations)
