"""The work-order service: the one facade the HTTP API, portal, Open311 and
intake call.  Synchronous on purpose (the web layer runs it in a thread pool);
each call is one unit of work.  Permissions are a data table; department staff
only ever see their own department's orders (others are "not found"), and the
caller's phone is masked for roles that do not need it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from callcenter.personal_data import API, phone_for
from ticketing.domain.errors import DuplicateSubmission, Forbidden, NotFound, ValidationFailed
from ticketing.domain.lifecycle import ACTIONS, CO_STATES, OPEN, STATUSES
from ticketing.domain.sla import DEFAULT_WARNING_SHARE, SlaContext
from ticketing.domain.workorder import (
    CHANNELS, ORDER_TYPES, URGENCIES, HistoryEntry, WorkOrder, validate_params,
)
from ticketing.persistence.repository import SqlAlchemyUnitOfWork

UTC = timezone.utc
log = logging.getLogger(__name__)
ROLES = ("agent", "dispatcher", "department", "supervisor", "admin")
DESK = {"agent", "dispatcher", "supervisor", "admin"}
DESK_LEADS = {"dispatcher", "supervisor", "admin"}
DEPARTMENT = {"department", "admin"}

# Who may do what.  Department actions are further limited to the lead department.
PERMISSIONS: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in {
    "view": set(ROLES),
    "create": DESK,
    "dispatch": DESK_LEADS,
    "resolve-on-call": {"agent", "dispatcher", "admin"},
    "acknowledge": DEPARTMENT, "start": DEPARTMENT, "return": DEPARTMENT, "extend": DEPARTMENT,
    "await-caller": DEPARTMENT, "resume": DEPARTMENT, "reply": DEPARTMENT,
    "review-return": DESK_LEADS, "review-extension": DESK_LEADS,
    "remind": DESK, "supervise": {"supervisor", "dispatcher", "admin"}, "callback-result": DESK,
    "respond-supervision": DEPARTMENT,
    "close": DESK_LEADS, "reopen": DESK_LEADS, "merge": DESK_LEADS, "cancel": DESK_LEADS,
    "co-acknowledge": DEPARTMENT, "co-reply": DEPARTMENT, "release-co": DESK_LEADS,
    "sub-dispatch": DEPARTMENT | DESK_LEADS,
}.items()}
assert ACTIONS <= set(PERMISSIONS)
# Department actions of the co-handling departments (on their own part), and of the lead only.
CO_ONLY = frozenset({"co-acknowledge", "co-reply"})
LEAD_ONLY = frozenset(a for a, roles in PERMISSIONS.items() if roles == DEPARTMENT) - CO_ONLY | {"sub-dispatch"}
TWO_LEVEL_DEFAULT = ("subdistrict-office",)

_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{2,19}$")
# field → (type, required, limit: max length, allowed values or None)
CREATE_FIELDS: dict[str, tuple[type, bool, Any]] = {
    "type": (str, True, ORDER_TYPES),
    "category": (str, True, 64),
    "district": (str, True, 32),
    "subdistrict": (str, False, 32),
    "address": (str, False, 300),
    "urgency": (str, False, URGENCIES),
    "channel": (str, False, CHANNELS),
    "caller_name": (str, False, 100),
    "caller_phone": (str, False, 32),
    "summary": (str, True, 200),
    "description": (str, False, 4000),
    "call_ids": (list, False, 20),
    "department": (str, False, 64),
    "co_departments": (list, False, 10),
}
MAX_LIST_LIMIT = 200
MAX_QUERY_LIMIT = 1000  # GeoReport v2's most requests per answer
MAX_QUERY_NUMBERS = 200


@dataclass(frozen=True)
class Actor:
    user_id: str
    role: str
    department: str | None = None



def _has_nul(value: Any) -> bool:
    return isinstance(value, str) and "\x00" in value


class WorkOrderService:
    """Create, read and act on work orders; every call is one transaction."""

    def __init__(self, engine_or_uow_factory: Engine | Callable[[], SqlAlchemyUnitOfWork], taxonomy, calendar,
                 *, warning_share: float = DEFAULT_WARNING_SHARE, two_level: Iterable[str] = TWO_LEVEL_DEFAULT):
        if isinstance(engine_or_uow_factory, Engine):
            engine = engine_or_uow_factory
            self.uow_factory = lambda: SqlAlchemyUnitOfWork(engine)
        else:
            self.uow_factory = engine_or_uow_factory
        if not 0 < warning_share < 1:
            raise ValidationFailed("warning_share must be between 0 and 1", {"warning_share": warning_share})
        self.taxonomy = taxonomy
        self.calendar = calendar
        self.warning_share = warning_share
        # 二级派单: departments that hand orders on to a sub-unit (the order's district's subdistricts)
        self.two_level = frozenset(two_level)
        unknown = sorted(self.two_level - set(taxonomy.departments))
        if unknown:
            raise ValidationFailed("二级派单单位未知 / unknown two-level departments", {"two_level": unknown})
        self._subscribers: list[Callable[[list[dict]], None]] = []

    @classmethod
    def from_config(cls, config, engine: Engine) -> "WorkOrderService":
        """The service for a deployment: taxonomy (``sla.taxonomy_dir``), the calendar from
        ``[calendar]`` hours plus the database's overrides, and ``sla.warning_share``."""
        from ticketing import taxonomy as taxonomies
        from ticketing.calendar_data import load_calendar

        taxonomy = taxonomies.from_config(config)
        calendar = load_calendar(engine, config.section("calendar"))
        return cls(engine, taxonomy, calendar, warning_share=float(config.get("sla.warning_share", DEFAULT_WARNING_SHARE)),
                   two_level=config.get("dispatch.two_level_departments", TWO_LEVEL_DEFAULT))

    # -- notifications ----------------------------------------------------------
    def subscribe(self, callback: Callable[[list[dict]], None]) -> None:
        """Be told (after commit) what happened: lifecycle events and SLA firings, as dicts."""
        self._subscribers.append(callback)

    def publish(self, events: list[dict]) -> None:
        for callback in list(self._subscribers):
            try:
                callback(events)
            except Exception:  # a broken listener must not undo a committed change
                log.exception("work-order event listener failed")

    # -- helpers --------------------------------------------------------------
    def sla_context(self, order: WorkOrder) -> SlaContext:
        targets = self.taxonomy.category(order.category).targets(order.urgency)
        return SlaContext(self.calendar, targets, self.warning_share)

    @staticmethod
    def _check_actor(actor: Actor) -> None:
        if not isinstance(actor, Actor) or actor.role not in ROLES:
            raise Forbidden("未知角色 / unknown role", {"role": getattr(actor, "role", None)})
        if actor.role == "department" and not actor.department:
            raise Forbidden("部门账号未绑定部门 / department user without a department", {"user": actor.user_id})

    def _require(self, actor: Actor, what: str) -> None:
        self._check_actor(actor)
        if actor.role not in PERMISSIONS[what]:
            raise Forbidden(f"角色 {actor.role} 无权执行 {what} / role {actor.role} may not {what}",
                            {"role": actor.role, "action": what})

    @staticmethod
    def _visible(order: WorkOrder, actor: Actor) -> bool:
        return actor.role != "department" or actor.department == order.department or \
            actor.department in order.co_departments

    def _load(self, uow, number: Any, actor: Actor, *, for_update: bool = False) -> WorkOrder:
        if not isinstance(number, str) or not number.isdigit() or len(number) > 20:
            raise NotFound("工单不存在 / no such work order", {"number": str(number)[:32]})
        order = uow.orders.get(number, for_update=for_update)
        if order is None or not self._visible(order, actor):
            raise NotFound("工单不存在 / no such work order", {"number": number})
        return order

    def _load_pair(self, uow, number: Any, other: Any, actor: Actor) -> tuple[WorkOrder, WorkOrder]:
        """Both orders of a merge, locked together in id order (see ``lock_many``): locking
        them one after the other lets A→B and B→A each hold one row and deadlock."""
        for n in (number, other):
            if not isinstance(n, str) or not n.isdigit() or len(n) > 20:
                raise NotFound("工单不存在 / no such work order", {"number": str(n)[:32]})
        found = uow.orders.lock_many([number, other])
        for n in (number, other):
            if n not in found or not self._visible(found[n], actor):
                raise NotFound("工单不存在 / no such work order", {"number": n})
        return found[number], found[other]

    @staticmethod
    def _now(now: datetime | None) -> datetime:
        if now is None:
            return datetime.now(UTC)
        if not isinstance(now, datetime) or now.tzinfo is None:
            raise ValidationFailed("now must be an aware datetime", {"now": str(now)})
        return now

    def _day(self, now: datetime) -> str:
        return now.astimezone(self.calendar.tz).strftime("%Y%m%d")

    # -- views ------------------------------------------------------------------
    def view(self, order: WorkOrder, actor: Actor, now: datetime) -> dict[str, Any]:
        status = STATUSES[order.status]
        cat = self.taxonomy.categories.get(order.category)
        district = self.taxonomy.districts.get(order.district)
        sub = district.subdistricts.get(order.subdistrict) if district and order.subdistrict else None
        dept = self.taxonomy.departments.get(order.department) if order.department else None
        names = lambda node: {"zh": node.zh, "en": node.en} if node else None  # noqa: E731
        deadlines = {}
        for kind, d in order.deadlines.items():
            deadlines[kind] = {
                "due_at": d.due_at.isoformat() if d.due_at else None,
                "warn_at": d.warn_at.isoformat() if d.warn_at else None,
                "paused": d.paused, "remaining_seconds": d.remaining, "working": d.working,
                "extended": d.extended, "level": d.level(now), "provisional": d.provisional,
            }
        nxt = order.next_deadline
        allowed = [a for a in order.allowed_actions() if actor.role in PERMISSIONS[a] and self._may(order, actor, a)]
        co_parts = []
        for code in order.co_departments:
            part = order.co_parts.get(code) or {"state": "assigned"}
            node = self.taxonomy.departments.get(code)
            co_parts.append({"department": code, "department_name": names(node), "state": part["state"],
                             "state_name": dict(zip(("zh", "en"), CO_STATES[part["state"]])),
                             "reply": part.get("reply"), "reason": part.get("reason"), "at": part.get("at")})
        sub = None
        if order.sub_unit and district:
            sub = district.subdistricts.get(order.sub_unit)
        return {
            "number": order.number, "status": order.status, "status_name": {"zh": status.zh, "en": status.en},
            "status_kind": status.kind, "sla_paused": status.sla_paused,
            "type": order.type, "category": order.category, "category_name": names(cat),
            "category_group": cat.group if cat else None,
            "district": order.district, "district_name": names(district),
            "subdistrict": order.subdistrict, "subdistrict_name": names(sub), "address": order.address,
            "urgency": order.urgency, "channel": order.channel, "caller_name": order.caller_name,
            "caller_phone": phone_for(order.caller_phone, actor.role, API),
            "summary": order.summary, "description": order.description, "call_ids": list(order.call_ids),
            "department": order.department, "department_name": names(dept),
            "co_departments": list(order.co_departments),
            "supervised": order.supervised, "reminders": order.reminders, "reopen_count": order.reopen_count,
            "merged_into": order.merged_into, "reply": self.full_reply(order), "lead_reply": order.reply,
            "co_parts": co_parts, "co_pending": order.co_pending, "sub_unit": order.sub_unit,
            "sub_unit_name": names(sub), "two_level": order.department in self.two_level,
            "satisfaction": order.satisfaction,
            "pending": order.pending, "deadlines": deadlines,
            "next_deadline": nxt.due_at.isoformat() if nxt else None, "sla_level": order.sla_level(now),
            "created_at": order.created_at.isoformat(),
            "updated_at": order.updated_at.isoformat() if order.updated_at else None,
            "allowed_actions": allowed,
        }

    def _may(self, order: WorkOrder, actor: Actor, action: str) -> bool:
        """Beyond the role table: a department acts as the lead or on its own co-handling part."""
        if action == "sub-dispatch" and order.department not in self.two_level:
            return False
        if action == "respond-supervision":  # only while a 督办 awaits its answer
            request = order.pending.get("supervision") or {}
            if not request or request.get("response"):
                return False
        if actor.role != "department":
            return True
        if action in CO_ONLY:
            state = (order.co_parts.get(actor.department) or {}).get("state")
            return actor.department in order.co_departments and state in (
                ("assigned",) if action == "co-acknowledge" else ("assigned", "acknowledged"))
        return action not in LEAD_ONLY or actor.department == order.department

    def full_reply(self, order: WorkOrder) -> str | None:
        """The reply the citizen gets: the lead's text followed by each co-handler's answered part."""
        if order.reply is None:
            return None
        parts = []
        for code in order.co_departments:
            part = order.co_parts.get(code) or {}
            if part.get("state") == "answered" and part.get("reply"):
                node = self.taxonomy.departments.get(code)
                parts.append(f"【协办·{node.zh if node else code}】{part['reply']}")
        return "\n".join([order.reply, *parts])

    @staticmethod
    def history_view(entry: HistoryEntry) -> dict[str, Any]:
        return {"at": entry.at.isoformat(), "actor": entry.actor, "role": entry.role, "action": entry.action,
                "from": entry.from_status, "to": entry.to_status, "reason": entry.reason, "details": entry.details}

    # -- validation ---------------------------------------------------------------
    def validate_fields(self, fields: Any) -> dict[str, Any]:
        """Check new-order fields against the contract and the taxonomy; report every problem."""
        if not isinstance(fields, dict):
            raise ValidationFailed("工单内容必须是对象 / fields must be an object", {"fields": "expected an object"})
        problems: dict[str, str] = {}
        for name in fields:
            if name not in CREATE_FIELDS:
                problems[str(name)[:64]] = "unknown field"
        for name, (typ, required, limit) in CREATE_FIELDS.items():
            value = fields.get(name)
            if value is None or (typ is str and isinstance(value, str) and not value.strip()):
                if required:
                    problems[name] = "required"
                continue
            if not isinstance(value, typ):
                problems[name] = f"expected {'text' if typ is str else 'a list'}"
            elif typ is list and (len(value) > limit or not all(
                    isinstance(v, str) and 0 < len(v) <= 64 and not _has_nul(v) for v in value)):
                problems[name] = f"expected up to {limit} short texts"
            elif isinstance(limit, tuple) and value not in limit:
                problems[name] = f"expected one of {list(limit)}"
            elif isinstance(limit, int) and typ is str and len(value) > limit:
                problems[name] = f"too long (max {limit} characters)"
            elif _has_nul(value):
                problems[name] = "contains a NUL character"
        if "caller_phone" not in problems and isinstance(fields.get("caller_phone"), str) and fields["caller_phone"]:
            if not _PHONE.match(fields["caller_phone"]):
                problems["caller_phone"] = "expected a phone number"
        tax = self.taxonomy
        if "category" not in problems and fields.get("category") not in tax.categories:
            problems["category"] = "unknown category"
        if "district" not in problems and fields.get("district") not in tax.districts:
            problems["district"] = "unknown district"
        elif "subdistrict" not in problems and fields.get("subdistrict") and \
                fields["subdistrict"] not in tax.districts[fields["district"]].subdistricts:
            problems["subdistrict"] = "unknown subdistrict of this district"
        if "department" not in problems and fields.get("department") and fields["department"] not in tax.departments:
            problems["department"] = "unknown department"
        if "co_departments" not in problems:
            unknown = [d for d in fields.get("co_departments") or [] if d not in tax.departments]
            if unknown:
                problems["co_departments"] = f"unknown departments {unknown}"
        if problems:
            raise ValidationFailed("工单内容无效 / invalid work-order fields", problems)
        clean = {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items()
                 if v is not None and not (isinstance(v, str) and not v.strip())}
        clean.setdefault("urgency", "normal")
        clean.setdefault("channel", "phone")
        clean["call_ids"] = list(clean.get("call_ids") or [])
        clean["co_departments"] = list(dict.fromkeys(clean.get("co_departments") or []))
        if not clean.get("department"):
            clean["department"] = tax.route(clean["category"], clean["district"])
        return clean

    # -- commands -------------------------------------------------------------------
    def _new_orders(self, uow, batch: list[dict], actor: Actor, now: datetime, dispatch: bool,
                    then: Callable[[WorkOrder], None] | None = None) -> list[WorkOrder]:
        numbers = uow.orders.allocate_numbers(self._day(now), len(batch))
        orders = []
        for number, fields in zip(numbers, batch):
            fields = dict(fields)
            co = fields.pop("co_departments")
            order = WorkOrder.register(actor=actor.user_id, role=actor.role, now=now, number=number, **fields)
            if dispatch:
                order.perform("dispatch", {"co_departments": co}, actor=actor.user_id, role=actor.role, now=now,
                              sla=self.sla_context(order))
            else:
                order.co_departments = co
            if then is not None:
                then(order)
            orders.append(order)
        uow.orders.add_many(orders)
        return orders

    def create(self, fields: dict, actor: Actor, now: datetime, idempotency_key: str | None = None, *,
               then: tuple[str, dict, Actor] | None = None) -> dict:
        """Register one order (受理).  With an idempotency key, a repeated submission
        returns the first order (``"replayed": True``) and never creates a second.

        ``then`` = ``(action, params, actor)``: a first action (the desk's 直派 dispatch, or resolve-on-call)
        applied in the same transaction, so a crash can never leave a desk order registered but undispatched.
        """
        self._require(actor, "create")
        now = self._now(now)
        clean = self.validate_fields(fields)
        events: list = []
        follow = None
        if then is not None:
            action, params, by = then
            self._require(by, action)
            params = validate_params(action, params if params is not None else {})

            def follow(order: WorkOrder) -> None:
                events.extend(order.perform(action, params, actor=by.user_id, role=by.role, now=now,
                                            sla=self.sla_context(order)))
        if idempotency_key is not None and (not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 128
                                            or _has_nul(idempotency_key)):
            raise ValidationFailed("幂等键无效 / invalid idempotency key", {"idempotency_key": "1-128 characters"})
        fingerprint = hashlib.sha256(json.dumps(clean, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        if idempotency_key is not None:
            replay = self._replay(idempotency_key, fingerprint, actor, now)
            if replay is not None:
                return replay
        try:
            with self.uow_factory() as uow:
                if idempotency_key is not None:
                    uow.orders.claim_idempotency_key(idempotency_key, fingerprint, now)
                [order] = self._new_orders(uow, [clean], actor, now, dispatch=False, then=follow)
                if idempotency_key is not None:
                    uow.orders.bind_idempotency_key(idempotency_key, order.id)
                uow.commit()
        except IntegrityError:
            if idempotency_key is None:
                raise
            replay = self._replay(idempotency_key, fingerprint, actor, now)  # a concurrent twin won the race
            if replay is None:
                raise
            return replay
        self.publish([{"event": "created", "number": order.number, "at": now.isoformat()},
                      *({"event": e.name, "number": e.number, "at": e.at.isoformat(), **e.data} for e in events)])
        return dict(self.view(order, actor, now), replayed=False)

    def _replay(self, key: str, fingerprint: str, actor: Actor, now: datetime) -> dict | None:
        with self.uow_factory() as uow:
            row = uow.orders.idempotency_key(key)
            if row is None or row["order_id"] is None:
                return None
            if row["fingerprint"] != fingerprint:
                raise DuplicateSubmission(
                    "幂等键已用于另一份内容 / this idempotency key was used for different content",
                    {"idempotency_key": key})
            order = uow.orders.get_by_id(row["order_id"])
            return dict(self.view(order, actor, now), replayed=True)

    def create_many(self, batch: Iterable[dict], actor: Actor, now: datetime, *, dispatch: bool = False) -> list[dict]:
        """Register (and optionally dispatch) a batch in one transaction: all or nothing."""
        self._require(actor, "create")
        if dispatch:
            self._require(actor, "dispatch")
        now = self._now(now)
        batch = list(batch)
        clean, problems = [], {}
        for i, fields in enumerate(batch):
            try:
                clean.append(self.validate_fields(fields))
            except ValidationFailed as exc:
                problems[str(i)] = exc.details
        if problems:
            raise ValidationFailed("批量工单中有无效内容 / invalid orders in the batch", problems)
        if not clean:
            return []
        with self.uow_factory() as uow:
            orders = self._new_orders(uow, clean, actor, now, dispatch)
            uow.commit()
        self.publish([{"event": "created", "number": o.number, "at": now.isoformat()} for o in orders])
        return [self.view(o, actor, now) for o in orders]

    def perform(self, number: str, action: str, params: dict, actor: Actor, now: datetime) -> dict:
        """Apply one lifecycle action and return the updated order."""
        if not isinstance(action, str) or action not in ACTIONS:
            raise ValidationFailed(f"未知操作 / unknown action {str(action)[:32]!r}",
                                   {"action": f"expected one of {sorted(ACTIONS)}"}, error_id="workorder.unknown_action")
        self._require(actor, action)
        now = self._now(now)
        if action in CO_ONLY and actor.role == "department" and isinstance(params, dict):
            params = dict(params)
            if params.setdefault("department", actor.department) != actor.department:
                raise Forbidden("只能处理本单位的协办部分 / a department answers only its own co-handling part",
                                {"action": action, "department": actor.department})
        params = validate_params(action, params if params is not None else {})
        for key in ("department",):
            if params.get(key):
                self.taxonomy.department(params[key])
        for code in params.get("co_departments") or []:
            self.taxonomy.department(code)
        with self.uow_factory() as uow:
            target = None
            if action == "merge" and params["into"] != number:
                order, target = self._load_pair(uow, number, params["into"], actor)
            else:
                order = self._load(uow, number, actor, for_update=True)
            if action in LEAD_ONLY and actor.role == "department" and actor.department != order.department:
                raise Forbidden("仅主办单位可执行此操作 / only the lead department may do this",
                                {"action": action, "department": actor.department})
            if action == "sub-dispatch":
                self._check_sub_unit(order, params["sub_unit"])
            # Checked on the locked rows: when a concurrent merge of the same pair won,
            # the order is already merged (perform refuses) or the target is (absorb refuses).
            events = order.perform(action, params, actor=actor.user_id, role=actor.role, now=now,
                                   sla=self.sla_context(order))
            if target is not None:
                target.absorb(order, actor=actor.user_id, role=actor.role, now=now, reason=params.get("reason"))
                uow.orders.save(target)
            uow.orders.save(order)
            uow.commit()
        self.publish([{"event": e.name, "number": e.number, "at": e.at.isoformat(), **e.data} for e in events])
        return self.view(order, actor, now)

    def fill_from_transcript(self, idempotency_key: str, fields: dict, actor: Actor, now: datetime, *,
                             transcript_id: int | None = None) -> str | None:
        """The draft registered under ``idempotency_key`` (a message left in the IVR) takes intake's
        fields from its transcript, checked like a new order's; None when no such order exists.
        An order already dispatched keeps what the dispatcher decided (IllegalTransition)."""
        self._require(actor, "create")
        now = self._now(now)
        with self.uow_factory() as uow:
            row = uow.orders.idempotency_key(idempotency_key)
            if row is None or row["order_id"] is None:
                return None
            number = uow.orders.get_by_id(row["order_id"]).number
            order = self._load(uow, number, actor, for_update=True)
            current = {name: getattr(order, name) for name in CREATE_FIELDS if getattr(order, name, None) is not None}
            proposed = {k: v for k, v in fields.items() if k in WorkOrder.TRANSCRIPT_FIELDS}
            if "district" in proposed and "subdistrict" not in proposed:
                current.pop("subdistrict", None)  # the old one belongs to the old district
            if "category" in proposed and "department" not in proposed:
                current.pop("department", None)  # routed again from the new category
            clean = self.validate_fields({**current, **proposed})
            order.fill_from_transcript({k: clean.get(k) for k in WorkOrder.TRANSCRIPT_FIELDS if k in clean},
                                       actor=actor.user_id, role=actor.role, now=now, transcript_id=transcript_id)
            uow.orders.save(order)
            uow.commit()
        self.publish([{"event": "transcribed", "number": number, "at": now.isoformat()}])
        return number

    def _check_sub_unit(self, order: WorkOrder, sub_unit: str) -> None:
        if order.department not in self.two_level:
            raise ValidationFailed("主办单位没有下级单位 / the lead department has no sub-units to hand to",
                                   {"department": order.department}, error_id="sub_dispatch.not_two_level")
        if sub_unit not in self.taxonomy.district(order.district).subdistricts:
            raise ValidationFailed("下级单位不属于工单所在区县 / the sub-unit is not in the order's district",
                                   {"sub_unit": sub_unit, "district": order.district},
                                   error_id="sub_dispatch.unknown_sub_unit")

    # -- queries ----------------------------------------------------------------------
    def get(self, number: str, actor: Actor, *, now: datetime | None = None) -> dict:
        self._require(actor, "view")
        now = self._now(now)
        with self.uow_factory() as uow:
            order = self._load(uow, number, actor)
        return self.view(order, actor, now)

    def latest_open_for_caller(self, phones: list[str], actor: Actor) -> str | None:
        """The caller's newest order still open (the IVR reads its status to the number that reported
        it, with no order number to key in), or None."""
        self._require(actor, "view")
        if not phones:
            return None
        with self.uow_factory() as uow:
            return uow.orders.latest_open_for_caller(phones, sorted(OPEN))

    def history(self, number: str, actor: Actor) -> list[dict]:
        self._require(actor, "view")
        with self.uow_factory() as uow:
            order = self._load(uow, number, actor)
            entries = uow.orders.history(order.id)
        return [self.history_view(e) for e in entries]

    def list(self, actor: Actor, *, status: str | None = None, department: str | None = None, limit: int = 50,
             offset: int = 0, q: str | None = None, now: datetime | None = None) -> dict:
        """A page of orders the actor may see, newest first: ``{"items", "total", "limit", "offset"}``."""
        self._require(actor, "view")
        now = self._now(now)
        problems = {}
        if status is not None and status not in STATUSES:
            problems["status"] = f"expected one of {sorted(STATUSES)}"
        if department is not None and department not in self.taxonomy.departments:
            problems["department"] = "unknown department"
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
            problems["limit"] = f"expected 1..{MAX_LIST_LIMIT}"
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            problems["offset"] = "expected a non-negative integer"
        if q is not None and (not isinstance(q, str) or len(q) > 100 or _has_nul(q)):
            problems["q"] = "expected text up to 100 characters"
        if problems:
            raise ValidationFailed("查询参数无效 / invalid query", problems)
        visible_to = actor.department if actor.role == "department" else None
        with self.uow_factory() as uow:
            orders, total = uow.orders.list(status=status, department=department, visible_to=visible_to,
                                            q=q or None, limit=limit, offset=offset)
        return {"items": [self.view(o, actor, now) for o in orders], "total": total, "limit": limit, "offset": offset}

    def query(self, actor: Actor, *, numbers: list[str] | None = None, category: str | None = None,
              status_kind: str | None = None, created_from: datetime | None = None,
              created_to: datetime | None = None, limit: int = MAX_QUERY_LIMIT,
              now: datetime | None = None) -> list[dict]:
        """Orders the actor may see matching every given filter, newest first (Open311's reads).

        The filters run in the database, so the answer does not depend on how many
        newer orders exist.  ``status_kind`` is ``open`` or ``closed``; the creation
        bounds are inclusive; unknown or malformed ``numbers`` simply match nothing."""
        self._require(actor, "view")
        now = self._now(now)
        problems = {}
        if numbers is not None and (not isinstance(numbers, list) or len(numbers) > MAX_QUERY_NUMBERS
                                    or not all(isinstance(n, str) for n in numbers)):
            problems["numbers"] = f"expected up to {MAX_QUERY_NUMBERS} numbers"
        if category is not None and category not in self.taxonomy.categories:
            problems["category"] = "unknown category"
        if status_kind not in (None, "open", "closed"):
            problems["status_kind"] = "expected open or closed"
        for name, value in (("created_from", created_from), ("created_to", created_to)):
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                problems[name] = "expected an aware datetime"
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_QUERY_LIMIT:
            problems["limit"] = f"expected 1..{MAX_QUERY_LIMIT}"
        if problems:
            raise ValidationFailed("查询参数无效 / invalid query", problems)
        statuses = None
        if status_kind is not None:
            statuses = OPEN if status_kind == "open" else frozenset(STATUSES) - OPEN
        if numbers is not None:
            numbers = [n for n in numbers if n.isdigit() and len(n) <= 20]
            if not numbers:
                return []
        visible_to = actor.department if actor.role == "department" else None
        with self.uow_factory() as uow:
            orders, _ = uow.orders.list(visible_to=visible_to, statuses=statuses, category=category,
                                        created_from=created_from, created_to=created_to, numbers=numbers,
                                        limit=limit, offset=0, with_total=False)
        return [self.view(o, actor, now) for o in orders]
