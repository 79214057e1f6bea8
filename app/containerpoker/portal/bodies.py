"""Request bodies, declared once as schemas; :func:`parse` is the one way a view reads one.

A body must be a JSON object. Fields not declared are ignored (``image``, ``privileged``,
``binds`` ... never reach Docker); declared ones are checked strictly (a number is not text, 1
is not true). A bad body is refused with the one error shape, naming the field. Values whose
*meaning* the core decides (a runtime's name, a lesson's parameters) are only typed here: the
core validates them, once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from ..errors import InvalidRequest

Model = TypeVar("Model", bound=BaseModel)

Text64 = Annotated[str, Field(max_length=64)]
Email = Annotated[str, Field(max_length=254)]
Password = Annotated[str, Field(max_length=256)]
#: A runtime's name: checked by the core against the configured runtimes (400 "choose one of").
RuntimeName = Annotated[Any, WithJsonSchema({"type": "string", "example": "nginx"})]


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
    runtime: RuntimeName = None


class ContainerAction(Body):
    action: Literal["start", "stop", "restart", "release", "remove"]


class PoolAction(Body):
    action: Literal["add", "resize", "reinit"]
    count: int | None = None


class NodeAction(Body):
    action: Literal["drain", "activate"]


class LessonRun(Body):
    """A lesson's parameters: ``{"params": {...}}`` or the parameters themselves."""

    params: dict[str, Any] | None = None


class LessonSource(Body):
    """A lesson's whole new source (development mode)."""

    source: Annotated[str, Field(max_length=200_000)]


_WHAT = {
    "string_type": "must be text",
    "string_too_long": "must be text of at most {max_length} characters",
    "bool_type": "must be true or false",
    "int_type": "must be a whole number",
    "dict_type": "must be an object of names and values",
    "literal_error": "must be one of {expected}",
}


def parse(model: type[Model], data: object = ...) -> Model:
    """The request's JSON body as ``model``; :class:`InvalidRequest` naming what is wrong."""
    if data is ...:
        data = request.get_json(silent=True)
    if not isinstance(data, dict):
        example = {"runtime": "nginx"} if model is Spawn else {}
        raise InvalidRequest(
            "Send a JSON object" + (f", for example {example}" if example else "") + "."
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
