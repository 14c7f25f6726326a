"""``/dispatch`` (派单台): the dispatcher's console, and its JSON under ``/api/v1/dispatch``.

The console is a page over the work-order service, not a second engine:
every action it offers is the order's own ``/api/v1/workorders/{n}/{action}``
(posted by ``dispatch.js`` with the session's CSRF token), so the rules,
roles, error ids and history are the ones every other client gets.  What
is new here is reading: the inbox buckets (:mod:`.inbox`), intake's second
opinion (:mod:`.proposals`), similar orders with a merge preview, the
recordings and transcript, and a live stream that tells open consoles when
any order changed.
"""
from __future__ import annotations

import logging
from pathlib import Path

from callcenter.audit.service import record_order_view
from callcenter.auth.web import require_role
from callcenter.dispatch import inbox
from callcenter.dispatch.proposals import DEFAULT_THRESHOLD, Proposals
from callcenter.errors import HotlineError
from callcenter.personal_data import API, PAGE
from callcenter.web.app import json_api, query_arg, read_json
from callcenter.web.errors import error_responses
from callcenter.web.health import StaticFiles
from callcenter.web.i18n import CATALOGUE
from callcenter.web.sse import EventStream
from callcenter.workorders.engine import actor_for, unavailable

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
ROLES = ("dispatcher", "supervisor", "admin")
MAX_BULK = 50

TEXT = {
    "disp.title": {"zh": "派单台", "en": "Dispatch console"},
    "disp.inbox": {"zh": "待办", "en": "Inbox"},
    "disp.live": {"zh": "实时", "en": "Live"},
    "disp.offline": {"zh": "连接中断，正在重连", "en": "Disconnected, reconnecting"},
    "disp.empty": {"zh": "此分类下没有工单", "en": "Nothing in this pile"},
    "disp.number": {"zh": "工单号", "en": "Order"},
    "disp.status": {"zh": "状态", "en": "Status"},
    "disp.category": {"zh": "分类", "en": "Category"},
    "disp.district": {"zh": "区县", "en": "District"},
    "disp.summary": {"zh": "诉求", "en": "Request"},
    "disp.department": {"zh": "承办单位", "en": "Department"},
    "disp.deadline": {"zh": "时限", "en": "Deadline"},
    "disp.created": {"zh": "受理时间", "en": "Registered"},
    "disp.confidence": {"zh": "识别置信度", "en": "Intake confidence"},
    "disp.select": {"zh": "选择", "en": "Select"},
    "disp.filter": {"zh": "筛选", "en": "Filter"},
    "disp.any": {"zh": "全部", "en": "Any"},
    "disp.bulk": {"zh": "按建议批量派单", "en": "Dispatch selected as proposed"},
    "disp.bulk_done": {"zh": "批量派单完成", "en": "Bulk dispatch done"},
    "disp.keys": {"zh": "快捷键：j/k 上下，o 打开，x 选择，n 下一单，d 按建议派单，s 打开相似工单",
                  "en": "Keys: j/k move, o open, x select, n next order, d dispatch as proposed, s open similar"},
    "disp.back": {"zh": "返回派单台", "en": "Back to the console"},
    "disp.next": {"zh": "下一单", "en": "Next order"},
    "disp.said": {"zh": "来电内容", "en": "What the caller said"},
    "disp.transcript": {"zh": "通话转写", "en": "Transcript"},
    "disp.recordings": {"zh": "通话录音", "en": "Call recordings"},
    "disp.no_recordings": {"zh": "无录音", "en": "No recordings"},
    "disp.not_playable": {"zh": "录音文件不可用", "en": "The recording file is not available"},
    "disp.proposal": {"zh": "智能分拨建议", "en": "Intake proposal"},
    "disp.proposed_department": {"zh": "建议承办单位", "en": "Proposed department"},
    "disp.doubts": {"zh": "存疑", "en": "Doubts"},
    "disp.doubt.category_unsure": {"zh": "分类不确定", "en": "category unsure"},
    "disp.doubt.district_unsure": {"zh": "区县不确定", "en": "district unsure"},
    "disp.doubt.department_differs": {"zh": "建议单位与工单不同", "en": "proposal names another department"},
    "disp.doubt.department_unsure": {"zh": "承办单位识别置信度低", "en": "department unsure (low intake confidence)"},
    "disp.doubt.no_text": {"zh": "没有可识别的内容", "en": "nothing to read yet"},
    "disp.similar": {"zh": "相似工单", "en": "Similar orders"},
    "disp.no_similar": {"zh": "近7天没有相似的未办结工单", "en": "No similar open order in the last 7 days"},
    "disp.score": {"zh": "相似度", "en": "Similarity"},
    "disp.merge_preview": {"zh": "合并预览", "en": "Merge preview"},
    "disp.merge_into": {"zh": "将本单合并到此单", "en": "Merge this order into it"},
    "disp.merge_effect": {"zh": "合并后本单状态为“已合并”，来电记录并入目标工单，目标工单继续办理",
                          "en": "This order becomes 'merged', its calls join the target, which carries on"},
    "disp.history": {"zh": "办理轨迹", "en": "History"},
    "disp.actions": {"zh": "操作", "en": "Actions"},
    "disp.no_actions": {"zh": "当前状态没有可执行的操作", "en": "No action is possible in this status"},
    "disp.lead": {"zh": "主办单位", "en": "Lead department"},
    "disp.co": {"zh": "协办单位(可多选)", "en": "Co-handling departments (several)"},
    "disp.note": {"zh": "说明", "en": "Note"},
    "disp.reason": {"zh": "理由", "en": "Reason"},
    "disp.approve": {"zh": "同意", "en": "Approve"},
    "disp.refuse": {"zh": "不同意", "en": "Refuse"},
    "disp.respond_within": {"zh": "要求答复时限", "en": "Response required within"},
    "disp.pending_return": {"zh": "退单申请", "en": "Return request"},
    "disp.pending_extension": {"zh": "延期申请", "en": "Extension request"},
    "disp.pending_supervision": {"zh": "督办", "en": "Supervision"},
    "disp.co_parts": {"zh": "协办情况", "en": "Co-handling parts"},
    "disp.release": {"zh": "解除协办", "en": "Release"},
    "disp.done": {"zh": "已完成", "en": "Done"},
    "disp.error": {"zh": "操作未完成", "en": "Not done"},
    "disp.caller": {"zh": "来电人", "en": "Caller"},
    "disp.address": {"zh": "地址", "en": "Address"},
    "disp.urgency": {"zh": "紧急程度", "en": "Urgency"},
    "disp.into": {"zh": "目标工单号", "en": "Target order"},
    "disp.within.4h": {"zh": "4个工作小时", "en": "4 working hours"},
    "disp.within.1d": {"zh": "1个工作日", "en": "1 working day"},
    "disp.within.3d": {"zh": "3个工作日", "en": "3 working days"},
    "disp.urgency.normal": {"zh": "一般", "en": "Normal"},
    "disp.urgency.urgent": {"zh": "紧急", "en": "Urgent"},
    "nav.dispatch": {"zh": "派单台", "en": "Dispatch"},
    "act.dispatch": {"zh": "派单", "en": "Dispatch"},
    "act.review-return": {"zh": "审核退单", "en": "Review the return"},
    "act.review-extension": {"zh": "审核延期", "en": "Review the extension"},
    "act.merge": {"zh": "合并", "en": "Merge"},
    "act.cancel": {"zh": "撤单", "en": "Cancel"},
    "act.close": {"zh": "办结", "en": "Close"},
    "act.reopen": {"zh": "重办", "en": "Reopen"},
    "act.supervise": {"zh": "督办", "en": "Supervise"},
    "act.remind": {"zh": "催办", "en": "Remind"},
    "act.release-co": {"zh": "解除协办", "en": "Release a co-handler"},
    "act.sub-dispatch": {"zh": "二级派单", "en": "Hand to a sub-unit"},
}
for _bucket, (_zh, _en) in inbox.BUCKETS.items():
    TEXT[f"bucket.{_bucket}"] = {"zh": _zh, "en": _en}
CATALOGUE.update(TEXT)

# The console's forms, in the order they are shown; each posts to the order's own action.
CONSOLE_ACTIONS = ("dispatch", "review-return", "review-extension", "release-co", "sub-dispatch", "supervise",
                   "remind", "merge", "cancel", "close", "reopen")

OPENAPI = {
    "/api/v1/dispatch/inbox": {"get": {
        "operationId": "dispatch_inbox", "summary": "The dispatcher's inbox: counts per pile and one pile / 派单台待办",
        "parameters": [{"name": "bucket", "in": "query", "schema": {"type": "string", "enum": list(inbox.BUCKETS)}}],
        "responses": {"200": {"description": "counts and items"}, **error_responses(400, 401, 403)}}},
    "/api/v1/dispatch/orders/{number}": {"get": {
        "operationId": "dispatch_workspace", "summary": "An order with intake's proposal, similar orders, "
                                                        "history, attachments and recordings / 工单工作区",
        "responses": {"200": {"description": "the workspace"}, **error_responses(401, 403, 404)}}},
    "/api/v1/dispatch/orders/{number}/merge-preview": {"get": {
        "operationId": "dispatch_merge_preview", "summary": "What merging this order into another would do / 合并预览",
        "parameters": [{"name": "into", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1}}],
        "responses": {"200": {"description": "the preview"}, **error_responses(400, 401, 403, 404, 409, 422)}}},
    "/api/v1/dispatch/bulk-dispatch": {"post": {
        "operationId": "dispatch_bulk", "summary": "Dispatch several new orders, each to its proposed department "
                                                   "or to the one given / 批量派单",
        "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
            "numbers": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_BULK},
            "department": {"type": "string"}, "co_departments": {"type": "array", "items": {"type": "string"}}},
            "required": ["numbers"], "additionalProperties": False}}}},
        "responses": {"200": {"description": "every order dispatched"}, **error_responses(400, 401, 403, 404, 409, 422)}}},
}


class DispatchError(HotlineError):
    """A refused console request (nothing changed)."""


def console_of(deps) -> "Console":
    console = deps.extras.get("dispatch_console")
    if console is None:
        console = Console(deps)
        deps.extras["dispatch_console"] = console
        deps.extras.setdefault("on_close", []).append(console.stream.close)
    return console


class Console:
    """The pieces the console's pages and API share: proposals, the live stream, the readers."""

    def __init__(self, deps):
        from callcenter.recordings.web import index_of

        self.deps = deps
        self.stream = EventStream(deps.reactor)
        self.recordings = index_of(deps)
        threshold = float(deps.config.number("dispatch.confidence_threshold", 0.05, 0.95,
                                             default=DEFAULT_THRESHOLD))
        self.proposals = Proposals(self._extractor, threshold=threshold, transcripts=self._transcripts)
        if deps.workorders is not None:
            deps.workorders.subscribe(self._changed)

    def _extractor(self):
        intake = self.deps.extras.get("intake")
        if intake is not None:  # share the desk's loaded extractor
            return intake._loaded()
        from ticketing.intake.resources import default_extractor

        svc = self.deps.workorders
        return default_extractor(self.deps.config.get("intake.model_path") or None, getattr(svc, "taxonomy", None))

    def _transcripts(self, call_ids):
        return [r["transcript"] for r in self.recordings.for_calls(call_ids) if r.get("transcript")]

    def _changed(self, events: list[dict]) -> None:
        """A work-order change (any thread): tell the open consoles, from the reactor thread."""
        numbers = sorted({e.get("number") for e in events if e.get("number")})
        if numbers:
            self.deps.reactor.callFromThread(self.stream.publish, "changed", {"numbers": numbers})

    # -- reading (in the thread pool) ---------------------------------------------
    def inbox(self, actor, bucket: str, now, filters: dict | None = None) -> dict:
        """Counts of every pile, and the orders of ``bucket`` matching ``filters`` (district, category,
        department: codes; the counts are of the whole pile, so the dispatcher sees what the filter hides)."""
        filters = {k: v for k, v in (filters or {}).items() if v}
        svc = self.deps.workorders
        engine = self.deps.engine
        counts = inbox.counts(engine, now)
        new_orders = inbox.orders_in(engine, "new", now)
        judged = {o.number: self.proposals.proposal(o) for o in new_orders}
        counts["needs_dispatcher"] = sum(1 for j in judged.values() if j["needs_dispatcher"])
        if bucket in ("new", "needs_dispatcher"):
            orders = [o for o in new_orders if bucket == "new" or judged[o.number]["needs_dispatcher"]]
        else:
            orders = inbox.orders_in(engine, bucket, now)
        orders = [o for o in orders if all(getattr(o, k) == v for k, v in filters.items())]
        items = []
        for order in orders:
            view = svc.view(order, actor, now)
            judgement = judged.get(order.number)
            if judgement is not None:
                proposal = judgement["proposal"] or {}
                view["intake"] = {"needs_dispatcher": judgement["needs_dispatcher"], "doubts": judgement["doubts"],
                                  "score": judgement["score"], "department": proposal.get("department"),
                                  "category": proposal.get("category"), "district": proposal.get("district")}
            items.append(view)
        return {"at": now.isoformat(), "bucket": bucket, "filters": filters, "counts": counts, "items": items}

    def workspace(self, actor, number: str, now) -> dict:
        from callcenter.attachments.web import store_of
        from ticketing.intake.similar import similar_orders

        svc = self.deps.workorders
        order_view = svc.get(number, actor, now=now)
        with svc.uow_factory() as uow:
            order = uow.orders.get(number)
        history = svc.history(number, actor)
        judgement = self.proposals.proposal(order)
        similar = []
        if order.is_open:
            candidates = [c for c in inbox.recent_open(self.deps.engine, now) if c.number != number]
            rows = [{"number": c.number, "status": c.status, "merged_into": c.merged_into, "created_at": c.created_at,
                     "address": c.address, "district": c.district, "category": c.category,
                     "text": f"{c.summary} {c.description or ''}"} for c in candidates]
            found = similar_orders(judgement.get("_proposal") or judgement["text"] or order.summary, rows, now,
                                   extractor=self.proposals.extractor())
            for hit in found:
                other = svc.view(next(c for c in candidates if c.number == hit.order_id), actor, now)
                similar.append({"score": hit.score, "reasons": hit.reasons, "order": other,
                                "merge_preview": merge_preview(order_view, other)})
        recordings = [{k: v for k, v in r.items() if not k.startswith("_")}
                      for r in self.recordings.for_calls(order.call_ids)]
        for r in recordings:
            r["url"] = f"/api/v1/workorders/{number}/recordings/{r['index']}" if r["playable"] else None
        return {"order": order_view, "history": history, "intake": self.proposals.public(judgement),
                "similar": similar, "attachments": store_of(self.deps).list(number), "recordings": recordings,
                "next": self.next_after(number, now)}

    def next_after(self, number: str, now) -> str | None:
        """The next order a dispatcher should take after this one: the oldest other order that needs them."""
        for bucket in ("needs_dispatcher", "returned", "extension", "new", "reopened"):
            source = "new" if bucket == "needs_dispatcher" else bucket
            for order in inbox.orders_in(self.deps.engine, source, now, limit=50):
                if order.number == number:
                    continue
                if bucket == "needs_dispatcher" and not self.proposals.proposal(order)["needs_dispatcher"]:
                    continue
                return order.number
        return None

    def merge_preview_of(self, actor, number: str, into: str, now) -> dict:
        svc = self.deps.workorders
        if into == number:
            raise DispatchError("dispatch.merge_self", "不能合并到自身 / cannot merge an order into itself",
                                http_status=422, into=into)
        mine, target = svc.get(number, actor, now=now), svc.get(into, actor, now=now)
        return merge_preview(mine, target)

    def bulk_dispatch(self, actor, body: dict, now) -> dict:
        """Dispatch each order to the department given or its own routed one; every order is checked
        (visible, new) before any is dispatched, so a bad list changes nothing."""
        svc = self.deps.workorders
        problems = {k: "unknown field" for k in body if k not in ("numbers", "department", "co_departments")}
        numbers = body.get("numbers")
        if not isinstance(numbers, list) or not 1 <= len(numbers) <= MAX_BULK or not all(
                isinstance(n, str) and n.isdigit() and len(n) <= 20 for n in numbers) or len(set(numbers)) != len(numbers):
            problems["numbers"] = f"expected 1-{MAX_BULK} distinct order numbers"
        department = body.get("department")
        if department is not None and (not isinstance(department, str) or department not in svc.taxonomy.departments):
            problems["department"] = "unknown department"
        co = body.get("co_departments") or []
        if not isinstance(co, list) or not all(isinstance(c, str) and c in svc.taxonomy.departments for c in co):
            problems["co_departments"] = "expected known department codes"
        if problems:
            raise DispatchError("dispatch.bad_bulk", "批量派单参数无效 / invalid bulk dispatch", http_status=422,
                                problems=problems)
        orders = [svc.get(n, actor, now=now) for n in numbers]
        blocked = {o["number"]: o["status"] for o in orders if "dispatch" not in o["allowed_actions"]}
        if blocked:
            raise DispatchError("dispatch.not_dispatchable", "部分工单当前不能派单 / some orders cannot be "
                                "dispatched now", http_status=409, statuses=blocked)
        unrouted = [o["number"] for o in orders if not (department or o["department"])]
        if unrouted:
            raise DispatchError("dispatch.no_department", "部分工单没有建议承办单位，请指定 / some orders have no "
                                "department; name one", http_status=422, numbers=unrouted)
        done = []
        for o in orders:
            params = {"department": department or o["department"], "co_departments": co,
                      "note": "批量派单 / bulk dispatch"}
            done.append(svc.perform(o["number"], "dispatch", params, actor, now))
        return {"dispatched": [{"number": d["number"], "department": d["department"], "status": d["status"]}
                               for d in done]}


def merge_preview(mine: dict, target: dict) -> dict:
    """What a merge of ``mine`` into ``target`` would do, from both views (nothing is changed)."""
    refusal = None
    if "merge" not in mine["allowed_actions"]:
        refusal = {"order": mine["number"], "status": mine["status"]}
    elif target["status_kind"] != "open":
        refusal = {"order": target["number"], "status": target["status"]}
    return {
        "number": mine["number"], "into": target["number"], "possible": refusal is None, "refusal": refusal,
        "after": {
            "merged": {"number": mine["number"], "status": "merged", "merged_into": target["number"]},
            "target": {"number": target["number"], "status": target["status"],
                       "call_ids": list(dict.fromkeys([*target["call_ids"], *mine["call_ids"]])),
                       "department": target["department"]},
        },
        "left": {k: mine[k] for k in ("summary", "address", "category_name", "district_name", "created_at")},
        "right": {k: target[k] for k in ("summary", "address", "category_name", "district_name", "created_at")},
    }


def routes(app) -> None:
    deps = app.deps
    deps.templates.add_directory(HERE / "templates")
    paths = deps.extras.setdefault("openapi_paths", {})
    paths.update(OPENAPI)
    taxonomy = getattr(deps.workorders, "taxonomy", None)
    if taxonomy is not None:  # the filters take this deployment's codes
        inbox_get = dict(paths["/api/v1/dispatch/inbox"]["get"])
        inbox_get["parameters"] = inbox_get["parameters"] + [
            {"name": f, "in": "query", "schema": {"type": "string", "enum": sorted(codes)}}
            for f, codes in (("district", taxonomy.districts), ("category", taxonomy.categories),
                             ("department", taxonomy.departments))]
        paths["/api/v1/dispatch/inbox"] = {"get": inbox_get}
    console = console_of(deps)
    app.mount("dispatch/assets", StaticFiles(HERE / "static"))

    def service():
        if deps.workorders is None:
            raise unavailable()
        return deps.workorders

    def bucket_arg(request) -> str:
        bucket = query_arg(request, "bucket") or "new"
        if bucket not in inbox.BUCKETS:
            raise DispatchError("dispatch.unknown_bucket", "未知分类 / unknown inbox pile", http_status=400,
                                bucket=bucket[:40], expected=list(inbox.BUCKETS))
        return bucket

    def filter_args(request) -> dict:
        """``district``, ``category``, ``department``: known codes or nothing (an unknown one is a 400)."""
        tax = service().taxonomy
        known = {"district": tax.districts, "category": tax.categories, "department": tax.departments}
        out, problems = {}, {}
        for name, codes in known.items():
            value = query_arg(request, name) or None
            if value is not None and value not in codes:
                problems[name] = f"unknown {name}"
            out[name] = value
        if problems:
            raise DispatchError("dispatch.bad_filter", "筛选条件无效 / unknown filter value", http_status=400,
                                problems=problems)
        return out

    @app.route("/api/v1/dispatch/inbox", methods=["GET"])
    @json_api
    @require_role(*ROLES)
    async def inbox_api(request, principal):
        service()
        return await deps.db(console.inbox, actor_for(principal.user), bucket_arg(request), deps.now(),
                             filter_args(request))

    @app.route("/api/v1/dispatch/orders/<number>", methods=["GET"])
    @json_api
    @require_role(*ROLES)
    async def workspace_api(request, principal, number):
        service()
        ws = await deps.db(console.workspace, actor_for(principal.user), number, deps.now())
        await record_order_view(deps, request, principal, ws["order"], API)
        return ws

    @app.route("/api/v1/dispatch/orders/<number>/merge-preview", methods=["GET"])
    @json_api
    @require_role(*ROLES)
    async def merge_preview_api(request, principal, number):
        service()
        into = query_arg(request, "into") or ""
        if not into:
            raise DispatchError("dispatch.merge_target_required", "请指定目标工单 / name the target order (into)",
                                http_status=400)
        return await deps.db(console.merge_preview_of, actor_for(principal.user), number, into, deps.now())

    @app.route("/api/v1/dispatch/bulk-dispatch", methods=["POST"])
    @json_api
    @require_role(*ROLES)
    async def bulk_api(request, principal):
        service()
        body = read_json(request)
        return await deps.db(console.bulk_dispatch, actor_for(principal.user), body, deps.now())

    @app.route("/dispatch/events", methods=["GET"])
    @require_role(*ROLES, stream=True)
    async def events(request, principal):
        return console.stream

    @app.route("/dispatch", methods=["GET"])
    @require_role(*ROLES, page=True)
    async def page(request, principal):
        try:
            bucket = bucket_arg(request)
            data = await deps.db(console.inbox, actor_for(principal.user), bucket, deps.now(), filter_args(request))
        except DispatchError as exc:
            return deps.templates.render(request, "error.html", status=exc.http_status, session=principal.session,
                                         message_key="error.not_found", detail=exc.error_id, back="/dispatch")
        name = "dispatch_rows.html" if query_arg(request, "fragment") == "rows" else "dispatch.html"
        tax = service().taxonomy
        choices = {"district": sorted(tax.districts), "category": sorted(tax.categories),
                   "department": sorted(tax.departments)}
        return deps.templates.render(request, name, session=principal.session, data=data, bucket=bucket,
                                     buckets=list(inbox.BUCKETS), choices=choices)

    @app.route("/dispatch/orders/<number>", methods=["GET"])
    @require_role(*ROLES, page=True)
    async def order_page(request, principal, number):
        from ticketing.domain.lifecycle import RETURN_REASONS

        svc = service()
        try:
            ws = await deps.db(console.workspace, actor_for(principal.user), number, deps.now())
        except Exception as exc:  # noqa: BLE001 - an unknown order is the error page
            if not hasattr(exc, "error_id"):
                raise
            return deps.templates.render(request, "error.html", status=404, session=principal.session,
                                         message_key="error.not_found", detail=getattr(exc, "message", ""),
                                         back="/dispatch")
        order = ws["order"]
        await record_order_view(deps, request, principal, order, PAGE)
        district = svc.taxonomy.districts.get(order["district"])
        return deps.templates.render(
            request, "dispatch_order.html", session=principal.session, ws=ws, order=order,
            attachments=ws["attachments"], history=ws["history"],
            actions=[a for a in CONSOLE_ACTIONS if a in order["allowed_actions"]],
            departments=sorted(svc.taxonomy.departments.values(), key=lambda d: d.code),
            sub_units=sorted(district.subdistricts.values(), key=lambda d: d.code) if district else [],
            reasons=RETURN_REASONS, proposed=proposed_department(ws))


def proposed_department(ws: dict) -> str | None:
    """The department "dispatch as proposed" sends to: the order's routed one, else intake's."""
    order = ws["order"]
    proposal = (ws.get("intake") or {}).get("proposal") or {}
    return order["department"] or proposal.get("department")
