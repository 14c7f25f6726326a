"""The portal's rules, blocking (the web layer runs them in the thread pool).

A citizen proves a phone number by an SMS code before anything is filed or shown: a report
waits as a draft on its code (:meth:`CitizenPortal.start_report` → :meth:`finish_report`); an
order is shown after a code sent to the number that reported it (:meth:`start_track` →
:meth:`verify_track`), and then only the timeline a citizen may see (:meth:`timeline`) —
never notes, names of staff, or anybody else's data.  Rating online (:meth:`rate`) records
the 回访 result through the callback jobs, so the pending phone callback is cancelled and a
second rating of the same round is refused.

Limits are class attributes, counted in the database (so they hold across processes):
codes per phone and per client address per hour, a pause between two codes to one phone,
wrong tries per code, reports per phone and per address per day.  Numbers on the
restricted-callers list (限制呼入) are refused here as on the phone line.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from sqlalchemy import func, insert, select, update

from callcenter.citizen.tables import citizen_codes, citizen_reports
from callcenter.errors import HotlineError
from callcenter.sms import outbox, policy
from ticketing.service import Actor

C = citizen_codes.c
_TICKET = re.compile(r"[A-Za-z0-9_-]{16,40}")
R = citizen_reports.c
PORTAL_ACTOR = Actor("citizen:web", "agent")         # files orders and records online ratings
READER = Actor("citizen:web", "supervisor")           # reads an order the citizen proved is theirs

# statuses a citizen sees in the timeline (internal review states are left out)
VISIBLE = {
    "registered": ("已受理", "Registered"),
    "dispatched": ("已转交 {dept} 办理", "Passed to {dept}"),
    "acknowledged": ("{dept} 已签收", "{dept} took it on"),
    "in_progress": ("{dept} 正在办理", "{dept} is working on it"),
    "awaiting_caller": ("需要您补充情况，工作人员会联系您", "Staff will contact you for more details"),
    "replied": ("{dept} 已答复", "{dept} replied"),
    "closed": ("已办结", "Closed"),
    "reopened": ("重新办理", "Reopened"),
    "cancelled": ("已撤销", "Withdrawn"),
    "merged": ("已与同一事件的工单合并", "Merged with a report of the same event"),
    "resolved_on_call": ("已直接答复办结", "Answered and closed"),
}
ANSWERS = ("satisfied", "basic", "dissatisfied")


class PortalError(HotlineError):
    """A refused portal step; the page shows ``message`` (bilingual)."""


class CitizenPortal:
    code_minutes = 10
    code_interval = 60.0          # seconds between two codes to one phone
    codes_per_phone_hour = 5
    codes_per_client_hour = 20
    tries_per_code = 5
    reports_per_phone_day = 5
    reports_per_client_day = 20
    max_text = 2000
    max_address = 200

    def __init__(self, engine, workorders, *, secret: bytes, quiet: policy.QuietHours, link,
                 sign: tuple[str, str] = ("12345热线", "12345 Hotline"), restrictions=None, recorder=None,
                 callback_policy=None):
        self.engine = engine
        self.workorders = workorders
        self.secret = secret
        self.quiet = quiet
        self.link = link
        self.sign = sign
        self.restrictions = restrictions      # a RestrictionList (限制呼入), or None
        self.recorder = recorder              # a callbacks ResultRecorder, for online ratings
        self.callback_policy = callback_policy

    # -- codes ------------------------------------------------------------------------------
    def _hash(self, ticket: str, code: str) -> str:
        return hmac.new(self.secret, f"{ticket}:{code}".encode(), hashlib.sha256).hexdigest()

    def _refuse_restricted(self, phone: str, now: datetime) -> None:
        if self.restrictions is None:
            return
        from callcenter.screening.service import caller_key

        if caller_key(phone) in self.restrictions.in_force(now):
            raise PortalError("citizen.restricted", "该号码暂不能通过网上渠道提交或查询，请拨打热线 / this number cannot "
                              "use the web channel at present; please call the hotline", http_status=403)

    def _check_code_limits(self, conn, phone: str, client: str, now: datetime) -> None:
        hour = now - timedelta(hours=1)
        last = conn.execute(select(func.max(C.created_at)).where(C.phone == phone)).scalar()
        if last is not None and (now - _aware(last)).total_seconds() < self.code_interval:
            wait = int(self.code_interval - (now - _aware(last)).total_seconds()) + 1
            raise PortalError("citizen.code_too_soon", f"验证码已发送，请 {wait} 秒后再试 / a code was just sent; try "
                              f"again in {wait} s", http_status=429, retry_after=wait)
        per_phone = conn.execute(select(func.count()).where(C.phone == phone, C.created_at >= hour)).scalar_one()
        per_client = conn.execute(select(func.count()).where(C.client == client, C.created_at >= hour)).scalar_one()
        if per_phone >= self.codes_per_phone_hour or per_client >= self.codes_per_client_hour:
            raise PortalError("citizen.too_many_codes", "获取验证码过于频繁，请一小时后再试 / too many codes requested; "
                              "try again in an hour", http_status=429)

    def _new_code(self, conn, *, purpose: str, phone: str, client: str, lang: str, now: datetime,
                  order_number: str | None = None, draft: dict | None = None, send: bool = True) -> str:
        ticket = secrets.token_urlsafe(18)
        code = f"{secrets.randbelow(10 ** 6):06d}"
        conn.execute(insert(citizen_codes).values(
            ticket=ticket, purpose=purpose, phone=phone, order_number=order_number, code_hash=self._hash(ticket, code),
            attempts=0, draft=draft, client=client[:64], created_at=now,
            expires_at=now + timedelta(minutes=self.code_minutes)))
        if send:
            body = policy.render("code", lang, sign=self.sign[0], sign_en=self.sign[1], code=code,
                                 minutes=self.code_minutes)
            outbox.enqueue(conn, kind="code", phone=phone, lang=lang, body=body, now=now, quiet=self.quiet)
        return ticket

    def _redeem(self, ticket: str, code: str, purpose: str, now: datetime) -> dict:
        """Check ``code`` against ``ticket``, counting a wrong try (committed before the refusal);
        the code's row when right (or when it was already used: a repeated confirmation)."""
        wrong = None
        with self.engine.begin() as conn:
            row = conn.execute(select(citizen_codes).where(C.ticket == ticket, C.purpose == purpose)
                               .with_for_update()).first() if _TICKET.fullmatch(ticket or "") else None
            if row is None or _aware(row.expires_at) <= now:
                raise PortalError("citizen.code_expired", "验证码已失效，请重新获取 / the code has expired; ask for a "
                                  "new one", http_status=410)
            if row.used_at is not None:
                return dict(row._mapping)
            if row.attempts >= self.tries_per_code:
                raise PortalError("citizen.code_locked", "验证码错误次数过多，请重新获取 / too many wrong tries; ask "
                                  "for a new code", http_status=429)
            good = bool(code) and code.isdigit() and len(code) == 6 and \
                hmac.compare_digest(row.code_hash, self._hash(ticket, code))
            if not good:
                conn.execute(update(citizen_codes).where(C.ticket == ticket, C.attempts == row.attempts)
                             .values(attempts=row.attempts + 1))
                wrong = self.tries_per_code - row.attempts - 1
        if wrong is not None:
            raise PortalError("citizen.wrong_code", f"验证码不正确，还可尝试 {wrong} 次 / wrong code; {wrong} tries "
                              "left", http_status=400, tries_left=wrong)
        return dict(row._mapping)

    # -- reports ------------------------------------------------------------------------------
    def check_report(self, fields: dict) -> dict:
        """Validate the report form; the cleaned draft (the work-order service checks again)."""
        problems = {}
        text = (fields.get("text") or "").strip()
        if not 5 <= len(text) <= self.max_text:
            problems["text"] = f"5-{self.max_text}"
        phone = policy.mobile(fields.get("phone"))
        if phone is None:
            problems["phone"] = "mobile"
        tax = self.workorders.taxonomy
        district, _, sub = (fields.get("place") or "").partition(":")
        if district not in tax.districts:
            problems["place"] = "unknown"
        elif sub and sub not in tax.districts[district].subdistricts:
            problems["place"] = "unknown"
        address = (fields.get("address") or "").strip()
        if len(address) > self.max_address:
            problems["address"] = f"max {self.max_address}"
        if any("\0" in str(v) for v in fields.values()):
            problems["text"] = "NUL"
        if problems:
            raise PortalError("citizen.invalid_report", "请检查标红的内容 / please check the marked fields",
                              http_status=400, fields=problems)
        return {"text": text, "phone": phone, "district": district, "subdistrict": sub or None,
                "address": address or None, "lang": fields.get("lang") if fields.get("lang") in policy.LANGS else "zh"}

    def start_report(self, draft: dict, proposal: dict, client: str, now: datetime) -> str:
        """Keep the draft on a new code and send the code; the ticket the confirm page carries."""
        phone = draft["phone"]
        self._refuse_restricted(phone, now)
        with self.engine.begin() as conn:
            self._check_report_limits(conn, phone, client, now)
            self._check_code_limits(conn, phone, client, now)
            return self._new_code(conn, purpose="report", phone=phone, client=client, lang=draft["lang"], now=now,
                                  draft=dict(draft, proposal=proposal))

    def draft(self, ticket: str, now: datetime) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(select(citizen_codes).where(C.ticket == ticket, C.purpose == "report")).first() \
                if _TICKET.fullmatch(ticket or "") else None
        if row is None or _aware(row.expires_at) <= now:
            raise PortalError("citizen.code_expired", "页面已过期，请重新填写 / this form expired; please start again",
                              http_status=410)
        return dict(row._mapping)

    def _check_report_limits(self, conn, phone: str, client: str, now: datetime) -> None:
        day = now - timedelta(days=1)
        per_phone = conn.execute(select(func.count()).where(R.phone == phone, R.created_at >= day)).scalar_one()
        per_client = conn.execute(select(func.count()).where(R.client == client[:64], R.created_at >= day)).scalar_one()
        if per_phone >= self.reports_per_phone_day or per_client >= self.reports_per_client_day:
            raise PortalError("citizen.too_many_reports", "今日提交次数已达上限，如有紧急情况请拨打热线 / the daily limit "
                              "of web reports is reached; for anything urgent please call the hotline", http_status=429)

    def finish_report(self, ticket: str, code: str, category: str, client: str, now: datetime) -> dict:
        """Check the code and file the order (受理); ``{"number", "phone", "lang", "new"}``.

        The order is created with the ticket as its idempotency key, then the code is marked
        used with the portal's record and the SMS in one transaction: a crash in between and a
        second confirmation file nothing twice and finish the job."""
        row = self._redeem(ticket, code, "report", now)
        draft = row["draft"]
        if row["used_at"] is not None:
            return {"number": row["order_number"], "phone": row["phone"], "lang": draft["lang"], "new": False}
        self._refuse_restricted(draft["phone"], now)
        if category not in self.workorders.taxonomy.categories:
            raise PortalError("citizen.invalid_report", "请选择诉求类别 / please choose a category",
                              http_status=400, fields={"category": "unknown"})
        proposal = draft.get("proposal") or {}
        text = draft["text"]
        summary = (proposal.get("summary") or "").strip() or policy.shorten(text, 60)
        fields = {"type": proposal.get("type") or "report", "category": category, "district": draft["district"],
                  "subdistrict": draft["subdistrict"], "address": draft["address"], "channel": "web",
                  "urgency": proposal.get("urgency") or "normal", "summary": summary[:200],
                  "description": text, "caller_phone": draft["phone"]}
        order = self.workorders.create({k: v for k, v in fields.items() if v is not None}, PORTAL_ACTOR, now,
                                       idempotency_key=f"citizen:{ticket}")
        number = order["number"]
        with self.engine.begin() as conn:
            done = conn.execute(update(citizen_codes).where(C.ticket == ticket, C.used_at.is_(None))
                                .values(used_at=now, order_number=number)).rowcount
            if done:
                conn.execute(insert(citizen_reports).values(order_number=number, phone=draft["phone"],
                                                            client=client[:64], lang=draft["lang"], created_at=now))
                body = policy.render("accepted", draft["lang"], sign=self.sign[0], sign_en=self.sign[1],
                                     number=number, link=self.link("accepted", number))
                outbox.enqueue(conn, kind="accepted", phone=draft["phone"], lang=draft["lang"], body=body, now=now,
                               quiet=self.quiet, order_number=number, dedupe_key=f"{number}:accepted")
        return {"number": number, "phone": draft["phone"], "lang": draft["lang"], "new": bool(done)}

    # -- tracking -------------------------------------------------------------------------------
    def start_track(self, number: str, phone_text: str, client: str, lang: str, now: datetime) -> str:
        """A code for reading ``number``: sent only when ``phone`` is the number that reported it;
        otherwise a ticket that never verifies (the page cannot tell which — no probing)."""
        phone = policy.mobile(phone_text)
        if phone is None or not (number or "").isdigit() or len(number) > 20:
            raise PortalError("citizen.invalid_track", "请输入工单号和手机号 / enter the order number and the mobile "
                              "number", http_status=400)
        self._refuse_restricted(phone, now)
        owner = self._owner(number)
        with self.engine.begin() as conn:
            self._check_code_limits(conn, phone, client, now)
            match = owner is not None and policy.mobile(owner) == phone
            return self._new_code(conn, purpose="track", phone=phone, client=client, lang=lang, now=now,
                                  order_number=number if match else None, send=match)

    def _owner(self, number: str) -> str | None:
        from ticketing.domain.errors import NotFound

        try:
            return self.workorders.get(number, READER)["caller_phone"]
        except NotFound:
            return None

    def verify_track(self, ticket: str, code: str, now: datetime) -> tuple[str, str]:
        """``(number, phone)`` when the code is right (and was sent for that order)."""
        row = self._redeem(ticket, code, "track", now)
        if row["order_number"] is None:
            raise PortalError("citizen.wrong_code", "验证码不正确 / wrong code", http_status=400)
        if row["used_at"] is None:
            with self.engine.begin() as conn:
                conn.execute(update(citizen_codes).where(C.ticket == ticket).values(used_at=now))
        return row["order_number"], row["phone"]

    def order_for(self, number: str, phone: str, now: datetime) -> dict:
        """The citizen's view of their order (the cookie proved ``phone``): status, place, reply,
        timeline, and whether it may be rated now."""
        from ticketing.domain.errors import NotFound

        try:
            order = self.workorders.get(number, READER, now=now)
        except NotFound:
            raise PortalError("citizen.no_order", "工单不存在 / no such order", http_status=404) from None
        if policy.mobile(order["caller_phone"]) != phone:
            raise PortalError("citizen.no_order", "工单不存在 / no such order", http_status=404)
        history = self.workorders.history(number, READER)
        return {"number": number, "status": order["status"], "status_name": order["status_name"],
                "category_name": order["category_name"], "district_name": order["district_name"],
                "subdistrict_name": order["subdistrict_name"], "address": order["address"],
                "description": order["description"] or order["summary"], "created_at": order["created_at"],
                "department_name": order["department_name"], "reply": order["reply"],
                "satisfaction": order["satisfaction"], "round": order["reopen_count"],
                "can_rate": order["status"] == "replied", "timeline": timeline(history, order, self.workorders)}

    # -- rating -----------------------------------------------------------------------------------
    def rate(self, number: str, phone: str, answer: str, comment: str, now: datetime) -> dict:
        """Record the citizen's rating of the reply as this round's 回访 result (the phone callback
        of the round is then done); a second rating, or one while the call is ringing, is refused."""
        from callcenter.callbacks import jobs
        from callcenter.callbacks.tables import callback_jobs

        if answer not in ANSWERS:
            raise PortalError("citizen.invalid_rating", "请选择评价 / choose a rating", http_status=400)
        comment = " ".join((comment or "").replace("\0", " ").split())[:300]
        view = self.order_for(number, phone, now)
        if view["status"] != "replied":
            raise PortalError("citizen.already_rated", "该答复已评价或暂不能评价 / this reply is already rated or "
                              "cannot be rated now", http_status=409)
        jobs.schedule_replied(self.engine, now, self.callback_policy, self.workorders.calendar)
        with self.engine.connect() as conn:
            job = conn.execute(select(callback_jobs.c.id).where(
                callback_jobs.c.order_number == number, callback_jobs.c.round == view["round"])).first()
        if job is None:
            raise PortalError("citizen.already_rated", "该答复已评价 / this reply is already rated", http_status=409)
        note = "市民网上评价 / rated online" + (f"：{comment}" if comment else "")
        try:
            return self.recorder.online(job.id, answer, PORTAL_ACTOR, now, note=note)
        except jobs.CallbackConflict:
            raise PortalError("citizen.already_rated", "该答复已评价，或回访电话正在进行 / this reply is already rated, or "
                              "the callback call is in progress", http_status=409) from None


def timeline(history: list[dict], order: dict, workorders) -> list[dict]:
    """What a citizen may see of an order's history: status changes, in our words, with the
    department's name — no staff, notes, reasons or internal review steps."""
    depts = workorders.taxonomy.departments
    out = []
    current_dept = None
    for entry in history:
        details = entry.get("details") or {}
        if details.get("department") in depts:
            current_dept = depts[details["department"]]
        to = entry.get("to")
        if to not in VISIBLE or (entry.get("from") == to and entry["action"] != "create"):
            continue
        dept = current_dept or (depts.get(order.get("department")) if order.get("department") else None)
        zh, en = VISIBLE[to]
        out.append({"at": datetime.fromisoformat(entry["at"]), "status": to,
                    "zh": zh.format(dept=dept.zh if dept else "承办单位"),
                    "en": en.format(dept=dept.en if dept else "the department")})
    return out


def _aware(value: datetime) -> datetime:
    from datetime import timezone

    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


