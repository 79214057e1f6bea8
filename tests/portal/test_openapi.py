"""The OpenAPI document is valid OpenAPI 3.1, and the bodies it declares are the bodies the
API enforces: every declared field, sent wrong, is refused with the one error shape naming it.
Swagger UI at /api/docs is tested in a real browser (tests/e2e/test_api_docs.py)."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

pytestmark = pytest.mark.docker

#: A value of the wrong type for each JSON Schema type (strict: "3" is not 3, 1 is not true).
WRONG = {"string": 5, "integer": "3", "boolean": 1, "object": 5}


def _type(schema: dict) -> str | None:
    """The JSON Schema type of a property (``anyOf`` [X, null] counts as X)."""
    if "type" in schema:
        return schema["type"]
    for option in schema.get("anyOf", []):
        if option.get("type") not in (None, "null"):
            return option["type"]
    return None


def _valid(schema: dict) -> dict:
    """A body the schema accepts: its example, or a value of each required field's type."""
    if schema.get("examples"):
        return dict(schema["examples"][0])
    simple = {"string": "someone", "integer": 1, "boolean": False, "object": {}}
    body = {}
    for field in schema.get("required", []):
        definition = schema["properties"][field]
        body[field] = definition["enum"][0] if "enum" in definition else simple[_type(definition)]
    return body


def _bodies(document: dict):
    """(method, concrete path, body schema) of each operation with a JSON body."""
    schemas = document["components"]["schemas"]
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                ref = content["application/json"]["schema"]["$ref"]
                concrete = path.replace("{runtime}", "nginx")
                for name in ("ref", "lesson", "username", "name"):
                    concrete = concrete.replace("{" + name + "}", "x")
                yield method, concrete, schemas[ref.rsplit("/", 1)[1]]


def test_the_document_is_valid_openapi_3_1(client):
    document = client.get("/api/openapi.json").json
    validate(document)  # raises, naming the first problem
    assert document["openapi"] == "3.1.0"
    spawn = document["paths"]["/api/containers/spawn"]["post"]
    assert spawn["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Spawn"
    }


def test_every_declared_field_sent_wrong_is_refused_naming_it(client, auth):
    _, headers = auth.user(admin=True)
    document = client.get("/api/openapi.json").json
    checked = []
    for method, path, schema in _bodies(document):
        for field in schema.get("required", []):
            body = {k: v for k, v in _valid(schema).items() if k != field}
            answer = client.open(path, method=method, json=body, headers=headers)
            assert answer.status_code == 400, (path, answer.json)
            assert set(answer.json) == {"error", "detail"}
            assert f"'{field}'" in answer.json["detail"], (path, answer.json)
            checked.append((path, field, "missing"))
        for field, definition in schema["properties"].items():
            kind = _type(definition)
            if kind not in WRONG:
                continue
            body = _valid(schema) | {field: WRONG[kind]}
            answer = client.open(path, method=method, json=body, headers=headers)
            assert answer.status_code == 400, (path, field, answer.json)
            assert set(answer.json) == {"error", "detail"}
            # Named in quotes by the schema's check; a runtime's name is checked by the core
            # ("Unknown runtime '5': choose one of ...").
            assert field in answer.json["detail"], (path, field, answer.json)
            checked.append((path, field, kind))
        for field, definition in schema["properties"].items():
            if "enum" in definition:
                body = _valid(schema) | {field: "explode"}
                answer = client.open(path, method=method, json=body, headers=headers)
                assert answer.status_code == 400, (path, field, answer.json)
                assert f"The field '{field}' must be one of" in answer.json["detail"]
    # Every body the document names was exercised (the lessons' one through its params).
    assert {p for p, *_ in checked} >= {
        "/api/auth/register",
        "/api/auth/login",
        "/api/containers/spawn",
        "/api/containers/x/action",
        "/api/admin/users",
        "/api/admin/pools/nginx",
        "/api/admin/nodes/x",
        "/api/lessons/x",
    }


def test_a_body_that_is_not_an_object_gets_the_schemas_example(client, auth):
    _, headers = auth.user()
    answer = client.post("/api/containers/spawn", json=["nginx"], headers=headers)
    assert answer.status_code == 400
    assert answer.json["detail"] == 'Send a JSON object, for example {"runtime": "nginx"}.'
    lesson = client.post(
        "/api/lessons/1", data="files=3", headers=headers, content_type="text/plain"
    )
    assert lesson.status_code == 400 and '{"files": 3}' in lesson.json["detail"]


def test_swagger_ui_page_is_served_from_npm_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and "text/html" in page.content_type
    html = page.get_data(as_text=True)
    assert "/vendor/swagger-ui-bundle.js" in html and "/api/openapi.json" in html
    bundle = client.get("/vendor/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.get_data()) > 100_000
