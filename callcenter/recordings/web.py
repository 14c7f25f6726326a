"""``/api/v1/workorders/{number}/recordings``: an order's call recordings with their transcripts,
and each recording's audio with byte ranges (so the page's ``<audio>`` can seek).

Recordings carry the caller's voice: the desk roles that may see the order
(agents, dispatchers, supervisors, admins) may play them; departments read
the transcript only through the order's own fields, and get 403 here.
"""
from __future__ import annotations

import logging

from callcenter.audit.service import record_access
from callcenter.auth.web import require_role
from callcenter.recordings.store import RecordingIndex, roots_from_config
from callcenter.web.app import _error_response, json_api
from callcenter.web.errors import error_responses
from callcenter.web.files import send_file
from callcenter.workorders.engine import actor_for, unavailable

log = logging.getLogger(__name__)
LISTENERS = ("agent", "dispatcher", "supervisor", "admin")
PREFIX = "/api/v1/workorders/<number>/recordings"

OPENAPI = {
    "/api/v1/workorders/{number}/recordings": {"get": {
        "operationId": "list_recordings", "summary": "An order's call recordings and transcripts / 工单录音",
        "responses": {"200": {"description": "recordings, oldest first"}, **error_responses(401, 403, 404)}}},
    "/api/v1/workorders/{number}/recordings/{position}": {"get": {
        "operationId": "get_recording", "summary": "One recording's audio (byte ranges) / 录音播放",
        "responses": {"200": {"description": "audio"}, "206": {"description": "part of it"},
                      **error_responses(401, 403, 404, 416)}}},
}


def index_of(deps) -> RecordingIndex:
    index = deps.extras.get("recordings")
    if index is None:
        index = RecordingIndex(deps.engine, roots_from_config(deps.config))
        deps.extras["recordings"] = index
    return index


def public(items: list[dict]) -> list[dict]:
    return [{k: v for k, v in item.items() if not k.startswith("_")} for item in items]


def routes(app) -> None:
    deps = app.deps
    deps.extras.setdefault("openapi_paths", {}).update(OPENAPI)
    index = index_of(deps)

    async def order_of(principal, number) -> dict:
        if deps.workorders is None:
            raise unavailable()
        return await deps.db(deps.workorders.get, number, actor_for(principal.user), now=deps.now())

    @app.route(PREFIX, methods=["GET"])
    @json_api
    @require_role(*LISTENERS)
    async def list_recordings(request, principal, number):
        order = await order_of(principal, number)
        items = await deps.db(index.for_calls, order["call_ids"])
        for item in items:
            item["url"] = f"/api/v1/workorders/{number}/recordings/{item['index']}" if item["playable"] else None
        if any(item.get("transcript") for item in items):
            await record_access(deps, request, principal, "transcript.view", number)
        return {"number": number, "items": public(items)}

    @app.route(PREFIX + "/<int:position>", methods=["GET"])
    @require_role(*LISTENERS, stream=True)
    async def play(request, principal, number, position):
        try:
            order = await order_of(principal, number)
            path, media_type = await deps.db(index.file, order["call_ids"], position)
        except Exception as exc:  # noqa: BLE001 - refusals are the API's JSON errors
            return _error_response(request, exc)
        if not request.getHeader(b"range") or request.getHeader(b"range").startswith(b"bytes=0-"):
            # a read of the caller's voice is audited once per playback (the seeks that follow are not)
            log.info("recording played", extra={"fields": {"event": "recording.play", "by": principal.user.username,
                                                           "role": principal.user.role, "order": number,
                                                           "recording": position}})
            await record_access(deps, request, principal, "recording.play", number, f"#{position}")
        return await send_file(request, deps, path, media_type)
