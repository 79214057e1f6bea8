"""The API's OpenAPI 3.1 description, served at ``/api/openapi.json``.

A test checks that every ``/api`` route of the app is described here and
that nothing described is missing from the app.
"""

from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}
AUTH = [{"bearer": []}, {"cookie": []}]


def _op(
    summary: str,
    *,
    ok: int = 200,
    errors=(401,),
    body: dict | None = None,
    public: bool = False,
    params: list | None = None,
    sse: bool = False,
    ok_schema=None,
) -> dict:
    responses: dict = {
        str(ok): {
            "description": "success",
            "content": (
                {"text/event-stream": {"schema": {"type": "string"}}}
                if sse
                else {"application/json": {"schema": ok_schema or {"type": "object"}}}
            ),
        }
    }
    for code in errors:
        responses[str(code)] = {
            "description": {
                400: "bad request",
                401: "not logged in, or a bad, expired or revoked token",
                403: "admin only",
                404: "no such object (also another user's container)",
                409: "conflict with the object's state",
                413: "upload too large",
                429: "rate limited (Retry-After)",
                503: "pool exhausted or engine down (Retry-After)",
            }[code],
            "content": {"application/json": {"schema": ERROR}},
        }
    op: dict = {"summary": summary, "responses": responses}
    if not public:
        op["security"] = AUTH
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    if params:
        op["parameters"] = params
    return op


def _run_lesson(summary: str) -> dict:
    return _op(
        summary + ": its narrated steps as JSON, or streamed with Accept: text/event-stream",
        errors=(400, 401, 429, 503),
        params=[
            {
                "name": "lesson",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                "description": "number or name",
            }
        ],
        body={"application/json": {"schema": {"type": "object"}}},
    )


def _json(properties: dict, required: list[str]) -> dict:
    return {
        "application/json": {
            "schema": {"type": "object", "properties": properties, "required": required}
        }
    }


REF = {
    "name": "ref",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "container name, Docker id or numeric id",
}
USER = {"name": "username", "in": "path", "required": True, "schema": {"type": "string"}}
RUNTIME = {"name": "runtime", "in": "path", "required": True, "schema": {"type": "string"}}
TEXT = {"type": "string"}
LESSON = {
    "name": "lesson",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "number or name",
}


def spec() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "containerpoker portal API",
            "version": "1",
            "description": (
                "Log in with POST /api/auth/login and send the access_token as "
                "'Authorization: Bearer <token>'. Browsers use the HttpOnly cookie instead and "
                "must send the csrf_access_token cookie's value in X-CSRF-TOKEN on writes. "
                "Tokens in the URL are refused. Errors are {error, detail}."
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
                }
            },
        },
        "paths": {
            "/api/auth/register": {
                "post": _op(
                    "Create an account",
                    ok=201,
                    errors=(400, 409, 429),
                    public=True,
                    body=_json(
                        {"username": TEXT, "email": TEXT, "password": TEXT},
                        ["username", "email", "password"],
                    ),
                )
            },
            "/api/auth/login": {
                "post": _op(
                    "Log in: returns access_token and sets the browser cookies",
                    errors=(400, 401, 429),
                    public=True,
                    body=_json({"username": TEXT, "password": TEXT}, ["username", "password"]),
                )
            },
            "/api/auth/logout": {"post": _op("Log out: the token is revoked")},
            "/api/me": {"get": _op("The signed-in user")},
            "/api/pools": {"get": _op("Pools: ready, warming, assigned ... per runtime")},
            "/api/status": {"get": _op("Pools, host load and the upload limit")},
            "/api/stream": {"get": _op("Live dashboard state (server-sent events)", sse=True)},
            "/api/containers": {
                "get": _op(
                    "My containers (admins: ?all=1 for every pool container)",
                    params=[
                        {"name": "all", "in": "query", "schema": {"type": "string", "enum": ["1"]}}
                    ],
                )
            },
            "/api/containers/spawn": {
                "post": _op(
                    "Get a container of a runtime (201 new, 200 the one you already have)",
                    ok=201,
                    errors=(400, 401, 429, 503),
                    body=_json({"runtime": TEXT}, ["runtime"]),
                )
            },
            "/api/containers/{ref}": {"get": _op("One container", errors=(401, 404), params=[REF])},
            "/api/containers/{ref}/action": {
                "post": _op(
                    "start, stop, restart, release or remove",
                    errors=(400, 401, 404, 409),
                    params=[REF],
                    body=_json(
                        {
                            "action": {
                                "type": "string",
                                "enum": ["start", "stop", "restart", "release", "remove"],
                            }
                        },
                        ["action"],
                    ),
                )
            },
            "/api/containers/{ref}/renew": {
                "post": _op(
                    "Renew a container: its lifetime ends that long from now again (a few "
                    "times at most; 409 when no renewal is left or it never expires)",
                    errors=(401, 404, 409),
                    params=[REF],
                )
            },
            "/api/containers/{ref}/files": {
                "post": _op(
                    "Upload files or a zip/tar archive into the container's site",
                    ok=201,
                    errors=(400, 401, 404, 409, 413),
                    params=[REF],
                    body={
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "file": {
                                        "type": "array",
                                        "items": {"type": "string", "format": "binary"},
                                    },
                                    "dest": TEXT,
                                },
                            }
                        }
                    },
                )
            },
            "/api/containers/{ref}/logs": {
                "get": _op(
                    "The container's log, streamed (server-sent events); ?follow=0 for JSON",
                    errors=(401, 404),
                    params=[REF],
                    sse=True,
                )
            },
            "/api/containers/{ref}/stats": {
                "get": _op("CPU % and memory", errors=(401, 404), params=[REF])
            },
            "/api/openapi.json": {"get": _op("This document", public=True, errors=())},
            "/api/lessons": {"get": _op("The lessons: number, name, goal, parameters")},
            "/api/lessons/{lesson}": {"post": _run_lesson("Run a lesson")},
            "/api/lessons/{lesson}/challenge": {
                "post": _op(
                    "Open the lesson's challenge: the learner's own engine (started, or from the "
                    "warm pool) and a first round of checks",
                    errors=(400, 401, 429, 503),
                    params=[LESSON],
                ),
                "get": _op(
                    "One round of the challenge's checks (state, hint, what each saw), or "
                    "live with Accept: text/event-stream",
                    errors=(401, 404),
                    params=[LESSON],
                    sse=True,
                ),
            },
            "/api/lessons/challenge/engine": {
                "delete": _op("Remove the learner's own engine now", errors=(401,))
            },
            "/api/lessons/progress": {
                "get": _op("My progress: per lesson, runs and the challenge's state")
            },
            "/api/admin/lessons/progress": {
                "get": _op(
                    "The class view: per learner where they are, per lesson who passed and "
                    "which check people are stuck on (admin)",
                    errors=(401, 403),
                )
            },
            "/api/lessons/{lesson}/source": {
                "get": _op("A lesson's code, and whether it may be edited here", params=[LESSON]),
                "put": _op(
                    "Save a lesson's code (development mode, one local user): loaded first, "
                    "written whole or not at all",
                    errors=(400, 401, 403),
                    params=[LESSON],
                    body=_json({"source": TEXT}, ["source"]),
                ),
                "delete": _op(
                    "Restore the shipped version of a lesson (development mode)",
                    errors=(401, 403),
                    params=[LESSON],
                ),
            },
            "/api/examples": {"get": _op("The PRD's name for GET /api/lessons")},
            "/api/examples/{lesson}": {"post": _run_lesson("The PRD's name for running a lesson")},
            "/api/admin/nodes": {
                "get": _op("Nodes, their state and containers (admin)", errors=(401, 403))
            },
            "/api/admin/nodes/{name}": {
                "post": _op(
                    "Drain a node (its containers move, with their files) or activate it (admin)",
                    errors=(400, 401, 403),
                    params=[
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    body=_json(
                        {"action": {"type": "string", "enum": ["drain", "activate"]}}, ["action"]
                    ),
                )
            },
            "/api/admin/users": {
                "get": _op("Users (admin)", errors=(401, 403)),
                "post": _op(
                    "Create a user (admin)",
                    ok=201,
                    errors=(400, 401, 403, 409),
                    body=_json(
                        {
                            "username": TEXT,
                            "email": TEXT,
                            "password": TEXT,
                            "admin": {"type": "boolean"},
                        },
                        ["username", "email", "password"],
                    ),
                ),
            },
            "/api/admin/users/{username}": {
                "delete": _op(
                    "Delete a user and release their containers (admin)",
                    errors=(401, 403, 404, 409),
                    params=[USER],
                )
            },
            "/api/admin/users/{username}/promote": {
                "post": _op("Make a user an admin (admin)", errors=(401, 403, 404), params=[USER])
            },
            "/api/admin/users/{username}/release": {
                "post": _op(
                    "Release every container of a user (admin)", errors=(401, 403), params=[USER]
                )
            },
            "/api/admin/pools/{runtime}": {
                "post": _op(
                    "add N, resize to N, or reinitialise (replace every container) (admin)",
                    errors=(400, 401, 403),
                    params=[RUNTIME],
                    body=_json(
                        {
                            "action": {"type": "string", "enum": ["add", "resize", "reinit"]},
                            "count": {"type": "integer", "minimum": 0},
                        },
                        ["action"],
                    ),
                )
            },
        },
    }
