"""/api/openapi.json documents exactly the routes the app serves, and is well formed."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from gallery.media import LocalMediaStore
from gallery.store import GalleryStore
from gallery.web import create_app


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


async def test_every_route_is_documented_and_vice_versa(
    sqlite_store: GalleryStore, media: LocalMediaStore
) -> None:
    app = create_app(sqlite_store, media, public_url="https://clips.example", admin_token="t" * 32)
    routes = {
        (resource.canonical, route.method.lower())
        for resource in app.router.resources()
        if not resource.canonical.startswith("/static")
        for route in resource
        if route.method != "HEAD"
    }
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/api/openapi.json")
        assert response.status == 200
        document = await response.json()
    documented = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    assert routes == documented

    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "https://clips.example"}]
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    for path, operations in document["paths"].items():
        names = {
            p["name"]
            for op in operations.values()
            for p in op.get("parameters", [])
            if p["in"] == "path"
        }
        assert names == {
            part[1:-1] for part in path.replace(".", "/").split("/") if part.startswith("{")
        }, path
        for operation in operations.values():
            assert operation["responses"] and operation["summary"], path


async def test_api_answers_match_their_schemas(
    sqlite_store: GalleryStore, media: LocalMediaStore
) -> None:
    """The documented required fields are there in what the API really sends."""
    from tests.gallery.factories import add_done

    parent = add_done(sqlite_store)
    gid = add_done(sqlite_store, parent_id=parent, owner_id="discord:3")
    app = create_app(sqlite_store, media, public_url="https://clips.example")
    async with TestClient(TestServer(app)) as client:
        document = await (await client.get("/api/openapi.json")).json()
        schemas = document["components"]["schemas"]

        def required(name: str) -> set[str]:
            schema = schemas[name]
            fields = set(schema.get("required", []))
            for part in schema.get("allOf", []):
                fields |= (
                    required(part["$ref"].rsplit("/", 1)[1])
                    if "$ref" in part
                    else set(part.get("required", []))
                )
            return fields

        answers = {
            "SortedClipPage": "/api/clips",
            "ClipDetail": f"/api/clips/{gid}",
            "Lineage": f"/api/clips/{gid}/lineage",
            "MemberPage": "/api/members/discord:3",
            "ClipPage": "/api/search?q=fox",
            "Health": "/healthz",
        }
        for schema, path in answers.items():
            body = await (await client.get(path)).json()
            assert required(schema) <= set(body), (schema, required(schema) - set(body))
        clip = (await (await client.get("/api/clips")).json())["clips"][0]
        assert set(schemas["Clip"]["properties"]) == set(clip)
