"""/api/openapi.json names exactly the routes the API serves, with schemas generated from the
models the handlers use."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from api.app import make_app
from api.clipstate import clip_resource
from api.schemas import Clip
from tests.api.conftest import Api


def served_routes(api: Api, app) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS"):
            continue
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter")
        routes.add((route.method.lower(), re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)))
    return routes


async def test_the_document_names_every_route_served_and_no_other(api: Api) -> None:
    answer = await api.call("GET", "/api/openapi.json", token=None)
    assert answer.status == 200
    document = answer.body
    validate(document)
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert documented == served_routes(api, make_app(api.ctx))
    assert document["servers"] == [{"url": api.ctx.api_url}]


async def test_schemas_come_from_the_models(api: Api) -> None:
    document = (await api.call("GET", "/api/openapi.json", token=None)).body
    schemas = document["components"]["schemas"]
    post = document["paths"]["/v1/clips"]["post"]
    request_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = schemas[request_ref.rsplit("/", 1)[-1]]
    assert "from" in request["properties"] and "prompt" in request["properties"]
    assert request.get("additionalProperties") is False
    assert post["security"] == [{"bearerToken": ["clips:write"]}]
    assert "429" in post["responses"] and "Retry-After" in post["responses"]["429"]["headers"]
    problem = post["responses"]["422"]["content"]["application/problem+json"]["schema"]
    assert problem["$ref"].endswith("/ProblemDetails")


async def test_a_clips_json_matches_its_documented_schema(api: Api) -> None:
    gid = (await api.post_clip({"prompt": "a fox"})).body["id"]
    row = api.ctx.store.get(gid)
    data = clip_resource(row, api.ctx.api_clips.get(gid), api.ctx.public_url)
    assert Clip.model_validate(data).model_dump(mode="json").keys() == data.keys()
