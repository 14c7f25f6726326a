"""``/api/v1/openapi.json``: an OpenAPI 3.1 document generated from the very
tables the engine validates with (``CREATE_FIELDS``, ``ACTION_PARAMS``,
statuses), so the description cannot drift from the behaviour."""
from __future__ import annotations

import copy

from typing import Any

from callcenter.web.app import declare_input_rules, json_response
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
    text = {400: "bad request", 401: "not authenticated", 403: "forbidden or CSRF", 404: "no such resource",
            409: "illegal transition or duplicate submission", 413: "body too large",
            415: "not JSON", 422: "validation failed", 503: "service not available"}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": ERROR}}} for c in codes}


THROTTLED = {
    "description": "too many failed log-ins for this user name or address (auth.throttled); "
                   "the password was not checked",
    "headers": {"Retry-After": {"description": "seconds until the lock lifts", "schema": {"type": "integer"}}},
    "content": {"application/json": {"schema": ERROR}},
}


def build_document(taxonomy=None) -> dict[str, Any]:
    from callcenter.auth.service import ROLES
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
                                      "properties": {"username": {"type": "string", "minLength": 1},
                                                     "password": {"type": "string", "minLength": 1},
                                                     "name": {"type": "string", "maxLength": 80}}}),
            "responses": {"201": {"description": "token", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"token": {"type": "string"}, "token_type": {"const": "Bearer"},
                                                 "expires_at": {"type": "string", "format": "date-time"},
                                                 "user": {"$ref": "#/components/schemas/User"}}}}}},
                          **_errors(400, 401, 413, 415),
                          "429": THROTTLED}}},
        "/api/v1/me": {"get": {
            "operationId": "getMe", "summary": "Who is calling, and how / 当前用户",
            "description": "With a session cookie the answer carries the session's CSRF token, which "
                           "unsafe API calls from the page send as X-CSRF-Token.",
            "responses": {"200": {"description": "the caller", "content": {"application/json": {"schema": {
                "type": "object", "required": ["user", "via", "csrf_token"],
                "properties": {"user": {"$ref": "#/components/schemas/User"},
                               "via": {"type": "string", "enum": ["session", "token"]},
                               "csrf_token": {"type": ["string", "null"]}}}}}},
                          **_errors(401)}}},
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
        "User": {"type": "object", "required": ["username", "display_name", "role", "department"], "properties": {
            "username": {"type": "string"}, "display_name": {"type": "string"},
            "role": {"type": "string", "enum": list(ROLES)}, "department": {"type": ["string", "null"]}}},
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


def _json_ok(description: str, schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}


CALLBACK = {"type": "object", "properties": {
    "id": {"type": "integer"}, "number": {"type": "string"}, "round": {"type": "integer"},
    "phone": {"type": ["string", "null"]}, "department": {"type": ["string", "null"]},
    "category": {"type": ["string", "null"]}, "urgency": {"type": ["string", "null"]},
    "state": {"type": "string", "enum": ["scheduled", "dialing", "done", "unreachable", "skipped"]},
    "attempts": {"type": "integer"}, "due_at": {"type": ["string", "null"], "format": "date-time"},
    "last_reason": {"type": ["string", "null"]}, "result": {"type": ["string", "null"]},
    "note": {"type": ["string", "null"]}, "has_comment": {"type": "boolean"}}}

#: /api/v1 routes other features serve without describing themselves, by Klein rule.  They are added
#: to the document only when that route is actually mounted (``web.features`` may leave a feature out),
#: and a feature's own description in ``deps.extras["openapi_paths"]`` wins over these.
FEATURE_PATHS: dict[str, tuple[str, dict[str, Any]]] = {
    "/api/v1/openapi.json": ("/api/v1/openapi.json", {"get": {
        "operationId": "getOpenApi", "summary": "This document / 接口说明", "security": [],
        "responses": _json_ok("OpenAPI 3.1", {"type": "object"})}}),
    "/api/v1/wallboard": ("/api/v1/wallboard", {"get": {
        "operationId": "getWallboard", "summary": "The wallboard snapshot: queues, agents, work orders / 实时大屏数据",
        "responses": {**_json_ok("the snapshot", {"type": "object", "required": ["day", "at", "totals", "queues"],
                                                  "properties": {
            "day": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
            "version": {"type": "integer"}, "totals": {"type": "object"},
            "queues": {"type": "array", "items": {"type": "object"}}, "agents": {"type": "object"},
            "callbacks_pending": {"type": "integer"}, "callbacks": {"type": "object"},
            "workorders": {"type": "object"}, "thresholds": {"type": "object"}}}),
            **_errors(401, 403)}}}),
    "/api/v1/callbacks": ("/api/v1/callbacks", {"get": {
        "operationId": "listCallbacks", "summary": "Satisfaction callbacks to make by hand / 待回访列表",
        "parameters": [{"name": "state", "in": "query", "schema": {
            "type": "string", "enum": ["scheduled", "dialing", "done", "unreachable", "skipped"]},
            "description": "default: scheduled, dialing and unreachable"}],
        "responses": {**_json_ok("callbacks", {"type": "object", "properties": {
            "items": {"type": "array", "items": CALLBACK}}}), **_errors(400, 401, 403)}}}),
    "/api/v1/callbacks/<job_id>/result": ("/api/v1/callbacks/{job_id}/result", {"post": {
        "operationId": "recordCallbackResult", "summary": "Record what the citizen said on a manual callback / 登记回访结果",
        "parameters": [{"name": "job_id", "in": "path", "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["answer"], "properties": {
                "answer": {"type": "string", "enum": ["satisfied", "basic", "dissatisfied", "unreachable"]},
                "note": {"type": "string", "maxLength": 500}}}}}},
        "responses": {**_json_ok("the callback after the result", CALLBACK),
                      **_errors(400, 401, 403, 404, 409, 415, 422, 503)}}}),
    "/api/v1/callbacks/optouts": ("/api/v1/callbacks/optouts", {"post": {
        "operationId": "optOutOfCallbacks", "summary": "Never call this number back (不回访) / 登记不回访",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["phone"], "properties": {
                "phone": {"type": "string", "maxLength": 32}, "note": {"type": "string", "maxLength": 200}}}}}},
        "responses": {**_json_ok("recorded", {"type": "object", "properties": {"phone": {"type": "string"}}}, "201"),
                      **_errors(400, 401, 403, 415, 422)}}}),
}


def routes(app) -> None:
    deps = app.deps
    cache: dict[str, Any] = {}

    @app.route("/api/v1/openapi.json", methods=["GET"])
    def openapi(request):
        if "doc" not in cache:
            doc = build_document(getattr(deps.workorders, "taxonomy", None))
            # other features describe their /api/v1 routes in deps.extras["openapi_paths"]; the routes
            # of features that do not are described here, once the app is complete (first request)
            contributed = deps.extras.setdefault("openapi_paths", {})
            mounted = {rule.rule for rule in app.klein.url_map.iter_rules()}
            for rule, (path, spec) in FEATURE_PATHS.items():
                if rule in mounted:
                    contributed.setdefault(path, spec)
            doc["paths"].update(contributed)
            cache["doc"] = declare_input_rules(copy.deepcopy(doc))
        return json_response(request, cache["doc"])
