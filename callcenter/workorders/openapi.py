"""``/api/v1/openapi.json``: an OpenAPI 3.1 document generated from the very
tables the engine validates with (``CREATE_FIELDS``, ``ACTION_PARAMS``,
statuses), so the description cannot drift from the behaviour."""
from __future__ import annotations

from typing import Any

from callcenter.web.app import json_response
from callcenter.web.health import version

ERROR = {"$ref": "#/components/schemas/Error"}


def _field_schema(typ, limit) -> dict[str, Any]:
    if typ is bool:
        return {"type": "boolean"}
    if typ is int:
        schema: dict[str, Any] = {"type": "integer"}
        if isinstance(limit, tuple):
            schema["enum"] = list(limit)
        return schema
    if typ is list:
        return {"type": "array", "items": {"type": "string", "maxLength": 64}, "maxItems": limit}
    schema = {"type": "string"}
    if isinstance(limit, tuple):
        schema["enum"] = list(limit)
    elif isinstance(limit, int):
        schema["maxLength"] = limit
    return schema


def _object(spec: dict[str, tuple]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: _field_schema(typ, limit) for name, (typ, _req, limit) in spec.items()},
        "required": sorted(name for name, (_t, req, _l) in spec.items() if req),
    }


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "bad request", 401: "not authenticated", 403: "forbidden or CSRF", 404: "no such order",
            409: "illegal transition or duplicate submission", 413: "body too large",
            415: "not JSON", 422: "validation failed"}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": ERROR}}} for c in codes}


def build_document(taxonomy=None) -> dict[str, Any]:
    from ticketing.domain.lifecycle import STATUSES
    from ticketing.domain.workorder import ACTION_PARAMS
    from ticketing.service import CREATE_FIELDS, MAX_LIST_LIMIT

    create = _object(CREATE_FIELDS)
    if taxonomy is not None:
        create["properties"]["category"]["enum"] = sorted(taxonomy.categories)
        create["properties"]["district"]["enum"] = sorted(taxonomy.districts)
        create["properties"]["department"]["enum"] = sorted(taxonomy.departments)
    names = {"type": "object", "properties": {"zh": {"type": "string"}, "en": {"type": "string"}}}
    order = {
        "type": "object",
        "required": ["number", "status", "type", "category", "district", "summary", "created_at", "allowed_actions"],
        "properties": {
            "number": {"type": "string", "pattern": "^[0-9]+$", "examples": ["2026112300123"]},
            "status": {"type": "string", "enum": sorted(STATUSES)},
            "status_name": names, "status_kind": {"type": "string", "enum": ["open", "closed"]},
            "type": {"type": "string"}, "category": {"type": "string"}, "category_name": names,
            "district": {"type": "string"}, "district_name": names, "subdistrict": {"type": ["string", "null"]},
            "address": {"type": ["string", "null"]}, "urgency": {"type": "string"}, "channel": {"type": "string"},
            "caller_name": {"type": ["string", "null"]},
            "caller_phone": {"type": ["string", "null"], "description": "masked (138****1234) for department staff"},
            "summary": {"type": "string"}, "description": {"type": ["string", "null"]},
            "department": {"type": ["string", "null"]}, "department_name": {"type": ["object", "null"]},
            "co_departments": {"type": "array", "items": {"type": "string"}},
            "supervised": {"type": "boolean"}, "reminders": {"type": "integer"}, "reopen_count": {"type": "integer"},
            "reply": {"type": ["string", "null"]}, "deadlines": {"type": "object"},
            "next_deadline": {"type": ["string", "null"], "format": "date-time"},
            "sla_level": {"type": "string", "enum": ["green", "yellow", "red", "paused", "none"]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
            "allowed_actions": {"type": "array", "items": {"type": "string", "enum": sorted(ACTION_PARAMS)}},
        },
    }
    number_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    "description": "work-order number / 工单号"}
    json_body = lambda schema: {"required": True, "content": {"application/json": {"schema": schema}}}  # noqa: E731
    order_ok = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/WorkOrder"}}}}
    paths: dict[str, Any] = {
        "/api/v1/tokens": {"post": {
            "operationId": "createToken", "summary": "Trade user name and password for a bearer token / 获取令牌",
            "security": [],
            "requestBody": json_body({"type": "object", "additionalProperties": False, "required": ["username", "password"],
                                      "properties": {"username": {"type": "string"}, "password": {"type": "string"},
                                                     "name": {"type": "string", "maxLength": 80}}}),
            "responses": {"201": {"description": "token", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"token": {"type": "string"}, "token_type": {"const": "Bearer"},
                                                 "expires_at": {"type": "string", "format": "date-time"},
                                                 "user": {"type": "object"}}}}}},
                          **_errors(400, 401)}}},
        "/api/v1/workorders": {
            "get": {"operationId": "listWorkOrders", "summary": "Orders you may see, newest first / 工单列表",
                    "parameters": [
                        {"name": "status", "in": "query", "schema": {"type": "string", "enum": sorted(STATUSES)}},
                        {"name": "department", "in": "query", "schema": {"type": "string"}},
                        {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 100}},
                        {"name": "limit", "in": "query",
                         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT, "default": 50}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}}],
                    "responses": {"200": {"description": "a page", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {
                            "items": {"type": "array", "items": {"$ref": "#/components/schemas/WorkOrder"}},
                            "total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"}}}}}},
                                  **_errors(400, 401, 403, 422)}},
            "post": {"operationId": "createWorkOrder", "summary": "Register a work order (受理) / 新建工单",
                     "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                     "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                                     "description": "repeat a submission safely: same key + same body → same order"}],
                     "requestBody": json_body({"$ref": "#/components/schemas/WorkOrderCreate"}),
                     "responses": {"201": {"description": "created", **order_ok},
                                   "200": {"description": "replayed (same Idempotency-Key and body)", **order_ok},
                                   **_errors(400, 401, 403, 409, 413, 415, 422)}},
        },
        "/api/v1/workorders/{id}": {"get": {
            "operationId": "getWorkOrder", "summary": "One work order / 工单详情", "parameters": [number_param],
            "responses": {"200": {"description": "the order", **order_ok}, **_errors(401, 403, 404)}}},
        "/api/v1/workorders/{id}/history": {"get": {
            "operationId": "getWorkOrderHistory", "summary": "Audit history / 办理记录", "parameters": [number_param],
            "responses": {"200": {"description": "entries, oldest first", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"number": {"type": "string"}, "items": {
                    "type": "array", "items": {"$ref": "#/components/schemas/HistoryEntry"}}}}}}},
                **_errors(401, 403, 404)}}},
    }
    schemas: dict[str, Any] = {
        "Error": {"type": "object", "required": ["error_id", "message", "details"],
                  "properties": {"error_id": {"type": "string"}, "message": {"type": "string"},
                                 "details": {"type": "object"}}},
        "WorkOrderCreate": create,
        "WorkOrder": order,
        "HistoryEntry": {"type": "object", "properties": {
            "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"}, "role": {"type": "string"},
            "action": {"type": "string"}, "from": {"type": ["string", "null"]}, "to": {"type": "string"},
            "reason": {"type": ["string", "null"]}, "details": {"type": "object"}}},
    }
    for action, spec in sorted(ACTION_PARAMS.items()):
        schema_name = "Params_" + action.replace("-", "_")
        schemas[schema_name] = _object(spec)
        paths[f"/api/v1/workorders/{{id}}/{action}"] = {"post": {
            "operationId": "action_" + action.replace("-", "_"),
            "summary": f"Lifecycle action {action}",
            "parameters": [number_param],
            "requestBody": {"required": False, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{schema_name}"}}}},
            "responses": {"200": {"description": "the updated order", **order_ok}, **_errors(400, 401, 403, 404, 409, 422)},
        }}
    return {
        "openapi": "3.1.0",
        "info": {"title": "市民热线工单 API / Hotline work-order API", "version": version(),
                 "description": "Work orders (工单) of the citizen hotline. Authenticate with a bearer token from "
                                "POST /api/v1/tokens. Errors are {error_id, message, details}."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def routes(app) -> None:
    deps = app.deps
    cache: dict[str, Any] = {}

    @app.route("/api/v1/openapi.json", methods=["GET"])
    def openapi(request):
        if "doc" not in cache:
            cache["doc"] = build_document(getattr(deps.workorders, "taxonomy", None))
            # other features describe their /api/v1 routes in deps.extras["openapi_paths"]
            cache["doc"]["paths"].update(deps.extras.get("openapi_paths", {}))
        return json_response(request, cache["doc"])
