"""``/api/v1/workorders/{number}/attachments``: list, upload, read, thumbnail.

An upload is the file itself as the request body (``?filename=`` names it),
so a page posts a chosen file with ``fetch`` and a client with ``curl
--data-binary``.  Whoever may see the order (the work-order service decides:
a department sees its own and co-handled orders, nobody else's) may list,
read and add; everyone else gets the same 404 as for a missing order.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

from callcenter.attachments.store import AttachmentError, AttachmentStore
from callcenter.audit.service import record_access
from callcenter.auth.web import require_role
from callcenter.web.app import json_api, query_arg
from callcenter.web.errors import error_responses
from callcenter.web.files import send_file
from callcenter.web.health import StaticFiles
from callcenter.workorders.engine import actor_for, unavailable

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
PREFIX = "/api/v1/workorders/<number>/attachments"
UPLOAD_PATH = re.compile(rb"^/api/v1/workorders/[0-9]{1,20}/attachments/?(\?.*)?$")
WRITERS = ("agent", "dispatcher", "department", "supervisor", "admin")

OPENAPI = {
    "/api/v1/workorders/{number}/attachments": {
        "get": {"operationId": "list_attachments", "summary": "An order's photos and PDFs / 工单附件",
                "responses": {"200": {"description": "attachments, oldest first"}, **error_responses(401, 404)}},
        "post": {"operationId": "add_attachment", "summary": "Attach a photo or PDF (the body is the file) / 上传附件",
                 "parameters": [{"name": "filename", "in": "query", "schema": {"type": "string", "maxLength": 200}}],
                 "requestBody": {"content": {"application/octet-stream": {}, "image/jpeg": {}, "image/png": {},
                                             "application/pdf": {}}},
                 "responses": {"201": {"description": "stored"},
                               **error_responses(401, 403, 404, 409, 413, 415, 422)}}},
    "/api/v1/workorders/{number}/attachments/{attachment_id}": {
        "get": {"operationId": "get_attachment", "summary": "The file (byte ranges allowed) / 附件内容",
                "responses": {"200": {"description": "the file"}, "206": {"description": "part of it"},
                              **error_responses(401, 404, 416)}}},
    "/api/v1/workorders/{number}/attachments/{attachment_id}/thumbnail": {
        "get": {"operationId": "get_attachment_thumbnail", "summary": "A photo's PNG thumbnail / 附件缩略图",
                "responses": {"200": {"description": "image/png"}, **error_responses(401, 404)}}},
}


def store_of(deps) -> AttachmentStore:
    """The app's one :class:`AttachmentStore` (from ``[attachments]``), made on first use."""
    store = deps.extras.get("attachments")
    if store is None:
        store = AttachmentStore.from_config(deps.config, deps.engine)
        deps.extras["attachments"] = store
    return store


def routes(app) -> None:
    deps = app.deps
    deps.extras.setdefault("openapi_paths", {}).update(OPENAPI)
    deps.extras.setdefault("upload_paths", []).append(UPLOAD_PATH)
    store = store_of(deps)
    deps.templates.add_directory(HERE / "templates")
    app.mount("attachments/assets", StaticFiles(HERE / "static"))

    async def visible(principal, number) -> dict:
        svc = deps.workorders
        if svc is None:
            raise unavailable()
        return await deps.db(svc.get, number, actor_for(principal.user), now=deps.now())

    @app.route(PREFIX, methods=["GET"])
    @json_api
    @require_role()
    async def list_attachments(request, principal, number):
        await visible(principal, number)
        return {"number": number, "items": await deps.db(store.list, number)}

    @app.route(PREFIX, methods=["POST"])
    @json_api
    @require_role(*WRITERS)
    async def add_attachment(request, principal, number):
        await visible(principal, number)
        request.content.seek(0)
        data = request.content.read()
        item = await deps.db(store.add, number, data, query_arg(request, "filename") or "",
                             by=principal.user.username, role=principal.user.role, now=deps.now(),
                             source="page" if principal.via == "session" else "api")
        request.setHeader(b"Location", f"/api/v1/workorders/{number}/attachments/{item['id']}".encode())
        return 201, item

    async def serve(request, principal, number, attachment_id, thumbnail: bool):
        try:
            await visible(principal, number)
            meta = await deps.db(store.get, attachment_id, number)
            path = await deps.db(store.thumbnail if thumbnail else store.path, meta)
            if path is None:
                raise AttachmentError("attachments.no_thumbnail", "PDF 没有缩略图 / PDFs have no thumbnail",
                                      http_status=404, id=meta["id"])
        except Exception as exc:  # noqa: BLE001 - refusals are the API's JSON errors
            from callcenter.web.app import _error_response

            return _error_response(request, exc)
        if thumbnail:
            return await send_file(request, deps, path, "image/png")
        log.info("attachment read", extra={"fields": {"event": "attachment.read", "by": principal.user.username,
                                                      "role": principal.user.role, "order": number,
                                                      "attachment": meta["id"]}})
        await record_access(deps, request, principal, "attachment.read", number, f"#{meta['id']}")
        return await send_file(request, deps, path, meta["media_type"], filename=meta["filename"])

    @app.route(PREFIX + "/<attachment_id>", methods=["GET"])
    @require_role(stream=True)
    async def get_attachment(request, principal, number, attachment_id):
        return await serve(request, principal, number, attachment_id, False)

    @app.route(PREFIX + "/<attachment_id>/thumbnail", methods=["GET"])
    @require_role(stream=True)
    async def get_thumbnail(request, principal, number, attachment_id):
        return await serve(request, principal, number, attachment_id, True)
