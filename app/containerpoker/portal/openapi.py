"""The API's OpenAPI 3.1 document, generated from the routes and the request bodies' schemas.

A JSON view declares itself with :func:`operation` (a summary, the body's model, the answers
it can give). When it names a body model, the same decorator *validates* the request against
that model (``bodies.parse``) and hands the result to the view as ``body``: the schema that is
documented is the schema that is enforced, with nothing to keep in step by hand.

:func:`spec` walks the app's URL map (every ``/api/`` rule, its methods and path parameters),
so the document lists exactly the routes that are served; the bodies' JSON Schemas come from
pydantic (``models_json_schema``) into ``components/schemas``. It is served at
``/api/openapi.json`` and shown by Swagger UI at ``/api/docs``.

Why this and not spectree or flask-pydantic-spec: both would validate before our own
decorators (so a stranger learns the body's shape before the 401), answer with their own
error format instead of the portal's one ``{error, detail}``, and load their documentation
page from a CDN that the portal's Content-Security-Policy and offline classrooms refuse. What
they would add over pydantic's own JSON Schema is a route table, which Flask already has.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import bodies

AUTH = [{"bearer": []}, {"cookie": []}]
ERROR = {"$ref": "#/components/schemas/Error"}
TEXT = {"type": "string"}

#: What each status means, wherever an operation can answer with it.
ERRORS = {
    400: "bad request: the detail names the field",
    401: "not logged in, or a bad, expired or revoked token",
    403: "admin only",
    404: "no such object (also another user's container)",
    409: "conflict with the object's state",
    413: "upload too large",
    429: "rate limited (Retry-After)",
    503: "pool exhausted or engine down (Retry-After)",
}

#: Groups of operations, by the path's first part after /api/.
TAGS = {
    "auth": "accounts",
    "me": "accounts",
    "pools": "pools and status",
    "status": "pools and status",
    "stream": "pools and status",
    "containers": "containers",
    "lessons": "lessons",
    "examples": "lessons",
    "admin": "admin",
}

#: Path parameters, described once by name.
PATH_PARAMETERS = {
    "ref": "container name, Docker id or numeric id",
    "lesson": "number or name",
    "username": "a user's name",
    "runtime": "a runtime's name (nginx, apache, python, node)",
    "name": "a node's name",
}


@dataclass(frozen=True)
class Operation:
    """What :func:`spec` says about one view."""

    summary: str
    body: type[BaseModel] | None = None
    #: No body at all is the same as ``{}`` (the lessons: parameters are optional).
    body_optional: bool = False
    #: A body that is not JSON, documented as is (the uploads' multipart form).
    content: dict | None = None
    ok: int = 200
    errors: tuple[int, ...] = (401,)
    public: bool = False
    #: The answer's media type: JSON, a server-sent event stream or a page.
    answers: str = "application/json"
    query: tuple[dict, ...] = ()


def operation(summary: str, **details) -> Callable[[Callable], Callable]:
    """Declare a view in the API document; with ``body=Model``, validate its request body
    against ``Model`` and pass it to the view as ``body``."""
    op = Operation(summary, **details)

    def decorate(view):
        if op.body is None:
            view.openapi_operation = op
            return view

        @functools.wraps(view)
        def validated(*args, **kwargs):
            body = bodies.parse(op.body, optional=op.body_optional)
            return view(*args, body=body, **kwargs)

        validated.openapi_operation = op
        return validated

    return decorate


def _path(rule: str) -> str:
    """Werkzeug's ``/api/containers/<ref>`` as OpenAPI's ``/api/containers/{ref}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _tag(path: str) -> str:
    return TAGS.get(path.split("/")[2], "this document")


def _document(op: Operation, arguments: set[str], schemas: dict) -> dict:
    answer = (
        {"schema": {"type": "object"}} if op.answers == "application/json" else {"schema": TEXT}
    )
    responses = {str(op.ok): {"description": "success", "content": {op.answers: answer}}}
    for code in op.errors:
        responses[str(code)] = {
            "description": ERRORS[code],
            "content": {"application/json": {"schema": ERROR}},
        }
    document: dict = {"summary": op.summary, "responses": responses}
    if not op.public:
        document["security"] = AUTH
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": TEXT,
            "description": PATH_PARAMETERS.get(name, name),
        }
        for name in sorted(arguments)
    ]
    parameters += [dict(q) for q in op.query]
    if parameters:
        document["parameters"] = parameters
    if op.body is not None:
        document["requestBody"] = {
            "required": not op.body_optional,
            "content": {"application/json": {"schema": schemas[op.body]}},
        }
    elif op.content is not None:
        document["requestBody"] = {"required": True, "content": op.content}
    return document


def operations(app: Flask) -> list[tuple[str, str, set[str], Operation | None]]:
    """Every ``/api/`` route as (path, method, path parameters, its declaration or None)."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        op = getattr(app.view_functions[rule.endpoint], "openapi_operation", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((_path(rule.rule), method.lower(), set(rule.arguments), op))
    return found


def spec(app: Flask) -> dict:
    """The OpenAPI document of ``app``'s declared ``/api/`` routes."""
    routes = [route for route in operations(app) if route[3] is not None]
    models = sorted({op.body for *_, op in routes if op.body}, key=lambda m: m.__name__)
    refs, definitions = models_json_schema(
        [(model, "validation") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    schemas = {model: refs[(model, "validation")] for model in models}
    paths: dict = {}
    for path, method, arguments, op in routes:
        paths.setdefault(path, {})[method] = _document(op, arguments, schemas) | {
            "tags": [_tag(path)]
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "containerpoker portal API",
            "version": "1",
            "description": (
                "Log in with `POST /api/auth/login` and send the `access_token` as "
                "`Authorization: Bearer <token>`. Browsers use the HttpOnly cookie instead and "
                "must send the `csrf_access_token` cookie's value in `X-CSRF-TOKEN` on writes "
                "(this page does). Tokens in the URL are refused. Errors are "
                "`{error, detail}`; a refused body's detail names the field."
            ),
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "access_token_cookie"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": TEXT, "detail": TEXT},
                    "required": ["error", "detail"],
                },
                **definitions.get("$defs", {}),
            },
        },
        "paths": paths,
    }
