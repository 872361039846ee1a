"""/api/openapi.json is valid OpenAPI 3.1 and documents exactly the API routes of the router."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def router_api_operations(app: web.Application) -> dict[str, set[str]]:
    """{path template: methods} for every route under /api/v1/ (HEAD twins of GET left out)."""
    found: dict[str, set[str]] = {}
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/v1/") and route.method != "HEAD":
            found.setdefault(path, set()).add(route.method.lower())
    return found


def documented_operations(document: dict[str, Any]) -> dict[str, set[str]]:
    return {
        path: {method for method in item if method in HTTP_METHODS}
        for path, item in document["paths"].items()
    }


async def fetch_document(client: TestClient) -> dict[str, Any]:
    answer = await client.get("/api/openapi.json")
    assert answer.status == 200
    assert answer.content_type == "application/json"
    document: dict[str, Any] = await answer.json()
    return document


async def test_the_document_is_valid_openapi_3_1(client: TestClient) -> None:
    # openapi-spec-validator belongs to the `test` extra; it checks the whole document,
    # $refs, schemas and path parameters included.
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    document = await fetch_document(client)
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


async def test_every_api_route_is_documented_and_nothing_else(client: TestClient) -> None:
    document = await fetch_document(client)
    routes = router_api_operations(client.app)
    assert routes, "the router has no /api/v1/ routes"
    assert documented_operations(document) == routes


async def test_the_server_url_is_the_public_url(client: TestClient) -> None:
    document = await fetch_document(client)
    config_url = (await (await client.get("/api/v1/instance")).json())["url"]
    assert document["servers"] == [{"url": config_url}]


async def test_operations_describe_their_errors_and_auth(client: TestClient) -> None:
    document = await fetch_document(client)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, item in document["paths"].items():
        declared = {
            parameter["name"]
            for parameter in item.get("parameters", [])
            if parameter["in"] == "path" and parameter["required"]
        }
        assert declared == set(re.findall(r"{(\w+)}", path)), path
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            assert operation["summary"] and operation["responses"], (path, method)
            statuses = set(operation["responses"])
            assert any(status.startswith("2") for status in statuses), (path, method)
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == error_ref
            if operation["security"]:  # a token is needed: a missing one is documented
                assert "401" in statuses, (path, method)
            if "requestBody" in operation:  # JSON bodies can be invalid or too large
                assert {"400", "413"} <= statuses, (path, method)
