"""The OpenAPI 3.1 document of the REST API (`/api/openapi.json`), built from what the feature
modules declare: each `Operations.add` names a route, its scope, its body and its answers as
pydantic models, and the schemas come from those models (`models_json_schema`), never written
out by hand. `tests/api/test_openapi.py` checks the document names exactly the routes served.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

REF = "#/components/schemas/{model}"


class ProblemDetails(BaseModel):
    """An RFC 9457 problem: what every refusal and error of the API is."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="urn:reelbot:problem:<kind>, stable for clients to branch on")
    title: str
    status: int
    detail: str = Field(description="What was wrong and how to fix it, for people")


@dataclass(frozen=True)
class Answer:
    description: str
    model: type[BaseModel] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # name -> description
    content_type: str = "application/json"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    answers: Mapping[int, Answer]
    scope: str | None = None  # None: no token needed
    body: type[BaseModel] | None = None
    multipart: type[BaseModel] | None = None  # the same body as form fields, with files
    parameters: Sequence[Mapping[str, Any]] = ()
    description: str = ""


class Operations:
    """The operations one feature module serves; `api.app` gathers every module's."""

    def __init__(self) -> None:
        self.items: list[Operation] = []

    def add(
        self,
        method: str,
        path: str,
        summary: str,
        answers: Mapping[int, Answer | str],
        **options: Any,
    ) -> None:
        shaped = {
            status: answer if isinstance(answer, Answer) else _problem(answer)
            for status, answer in answers.items()
        }
        self.items.append(Operation(method.upper(), path, summary, shaped, **options))


def _problem(description: str) -> Answer:
    return Answer(description, ProblemDetails, content_type="application/problem+json")


def path_parameter(name: str, description: str, pattern: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": f"^{pattern}$"},
    }


def query_parameter(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def header_parameter(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _models(operations: Iterable[Operation]) -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {"ProblemDetails": ProblemDetails}
    for op in operations:
        for model in (op.body, op.multipart, *(a.model for a in op.answers.values())):
            if model is not None:
                seen.setdefault(model.__name__, model)
    return list(seen.values())


def openapi_document(
    operations: Iterable[Operation], *, api_url: str, gallery_url: str
) -> dict[str, Any]:
    """The whole document for these operations."""
    ops = list(operations)
    models = _models(ops)
    names, defs = models_json_schema(
        [(m, "serialization") for m in models] + [(m, "validation") for m in models],
        ref_template=REF,
    )
    schemas = defs.get("$defs", {})

    def ref(model: type[BaseModel], mode: str = "serialization") -> dict[str, Any]:
        return dict(names[(model, mode)])  # type: ignore[index]

    paths: dict[str, Any] = {}
    for op in ops:
        operation: dict[str, Any] = {"summary": op.summary, "responses": {}}
        if op.description:
            operation["description"] = op.description
        if op.parameters:
            operation["parameters"] = [dict(p) for p in op.parameters]
        if op.scope is not None:
            operation["security"] = [{"bearerToken": [op.scope]}]
        else:
            operation["security"] = []
        content: dict[str, Any] = {}
        if op.body is not None:
            content["application/json"] = {"schema": ref(op.body, "validation")}
        if op.multipart is not None:
            content["multipart/form-data"] = {"schema": ref(op.multipart, "validation")}
        if content:
            operation["requestBody"] = {"required": True, "content": content}
        for status, answer in sorted(op.answers.items()):
            response: dict[str, Any] = {"description": answer.description}
            if answer.model is not None:
                response["content"] = {answer.content_type: {"schema": ref(answer.model)}}
            if answer.headers:
                response["headers"] = {
                    name: {"description": text, "schema": {"type": "string"}}
                    for name, text in answer.headers.items()
                }
            operation["responses"][str(status)] = response
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "reelbot REST API",
            "version": "1",
            "description": "Ask for clips as members do in Discord, with the same settings, caps "
            "and rules. Every error is an RFC 9457 problem (application/problem+json). Clip "
            f"pages and files are served by the gallery at {gallery_url}.",
        },
        "servers": [{"url": api_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A member's token, rb_<id>_<secret> (/api token in Discord, "
                    "or reelbot token create); its scopes say what it may do",
                }
            },
        },
    }
