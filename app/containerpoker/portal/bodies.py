"""Request bodies, declared once as schemas; :func:`parse` is the one way a view reads one.

Views name their body in ``openapi.operation(body=...)``, which parses it and puts the same
schema in the OpenAPI document, so what is documented is what is enforced.

A body must be a JSON object. Fields not declared are ignored (``image``, ``privileged``,
``binds`` ... never reach Docker); declared ones are checked strictly (a number is not text, 1
is not true). A bad body is refused with the one error shape, naming the field. Values whose
*meaning* the core decides (a runtime's name, a lesson's parameters) are only typed here: the
core validates them, once.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from ..errors import InvalidRequest

Model = TypeVar("Model", bound=BaseModel)

Text64 = Annotated[str, Field(max_length=64)]
Email = Annotated[str, Field(max_length=254)]
Password = Annotated[str, Field(max_length=256)]
#: A runtime's name: checked by the core against the configured runtimes (400 "choose one of").
RuntimeName = Annotated[
    Any,
    WithJsonSchema(
        {
            "type": "string",
            "examples": ["nginx"],
            "description": "A runtime's name; the answer to an unknown one lists the names.",
        }
    ),
]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class Credentials(Body):
    username: Text64
    password: Password


class Registration(Body):
    username: Text64
    email: Email
    password: Password


class NewUser(Registration):
    admin: bool = False


class Spawn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"runtime": "nginx"}]})

    runtime: RuntimeName


class ContainerAction(Body):
    action: Literal["start", "stop", "restart", "release", "remove"]


class PoolAction(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"action": "add", "count": 2}]})

    action: Literal["add", "resize", "reinit"]
    #: How many to add, or the new warm size (the core checks it against the pool's maximum).
    count: Annotated[int, Field(ge=0)] | None = None


class NodeAction(Body):
    action: Literal["drain", "activate"]


class LessonRun(Body):
    """A lesson's parameters: ``{"params": {...}}`` or the parameters themselves (the lesson
    declares and checks them: the core validates them, once)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{"files": 3}]})

    params: dict[str, Any] | None = None

    def lesson_params(self) -> dict[str, Any]:
        if "params" in self.model_fields_set:
            return self.params or {}
        return dict(self.model_extra or {})


class LessonSource(Body):
    """A lesson's whole new source (development mode)."""

    source: Annotated[str, Field(max_length=200_000)]


_WHAT = {
    "string_type": "must be text",
    "string_too_long": "must be text of at most {max_length} characters",
    "bool_type": "must be true or false",
    "int_type": "must be a whole number",
    "greater_than_equal": "must be at least {ge}",
    "dict_type": "must be an object of names and values",
    "literal_error": "must be one of {expected}",
}


def parse(model: type[Model], data: object = ..., *, optional: bool = False) -> Model:
    """The request's JSON body as ``model``; :class:`InvalidRequest` naming what is wrong.

    ``optional``: a request without a body is read as ``{}``.
    """
    if data is ...:
        data = request.get_json(silent=True)
        if data is None and optional and not request.content_length:
            data = {}
    if not isinstance(data, dict):
        examples = (model.model_config.get("json_schema_extra") or {}).get("examples")
        raise InvalidRequest(
            "Send a JSON object"
            + (f", for example {json.dumps(examples[0])}" if examples else "")
            + "."
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(_explain(exc.errors()[0])) from None


def _explain(error: dict) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "body"
    if error["type"] == "missing":
        return f"The field {field!r} is missing."
    template = _WHAT.get(error["type"])
    if template is None:
        return f"The field {field!r} is not valid: {error['msg']}."
    return f"The field {field!r} " + template.format(**error.get("ctx", {})) + "."
