"""Citizens beside the phone: residents who use the web portal instead of calling, and the SMS
gateway that talks to their handsets.

:func:`start_gateway` starts Kannel (bearerbox, smsbox, the fake SMSC) on loopback and says how
the hotline reaches it (``[sms]`` settings); :class:`WebCitizens` are simulated residents who,
over real HTTP like a browser, report a problem on the portal (reading the SMS code from their
handset, i.e. the fake SMSC), and later — once their order is replied — track it with a fresh
code and rate the reply online instead of waiting for the callback.  Each comes from its own
address (``X-Forwarded-For`` through the demo's trusted loopback proxy), as residents do.
"""
from __future__ import annotations

import logging
import re
import secrets
from collections import Counter

import treq
from twisted.internet import defer, task
from twisted.internet.threads import deferToThread

from callcenter.clock import now_from

log = logging.getLogger(__name__)

REPORTS = (
    ("road-damage", "haishu", "中山西路", "人行道路面塌陷了一个坑，晚上走路很危险，请尽快修补。"),
    ("garbage-collection", "jiangbei", "人民路", "小区门口的垃圾桶已经三天没人清运了，气味很大。"),
    ("street-vending", "yinzhou", "天童南路", "地铁口晚上很多流动摊贩占道经营，行人通行困难。"),
    ("illegal-parking", "haishu", "药行街", "人行道上长期停满汽车，轮椅和婴儿车都过不去。"),
    ("construction-noise", "yinzhou", "鄞州大道", "工地每天晚上十一点以后还在施工，噪音吵得睡不着。"),
    ("cooking-fumes", "jiangbei", "大庆南路", "楼下饭店油烟直接排到居民窗口，请执法部门处理。"),
)
ANSWERS = ("satisfied", "satisfied", "basic", "dissatisfied")


def start_gateway(port: int):
    """Kannel on loopback for the demo (blocking; run it in a thread): ``(gateway, sms settings)``,
    or ``(None, reason)`` when Kannel is not installed."""
    from callcenter.sms.gateway import KannelGateway, installed

    if not installed():
        return None, "off: Kannel is not installed (apt-get install kannel kannel-extras)"
    token = secrets.token_hex(12)
    base = f"http://127.0.0.1:{port}"
    gateway = KannelGateway(f"{base}/sms/mo?token={token}").start()
    return gateway, {"sms.enabled": True, "sms.sendsms_url": gateway.sendsms_url, "sms.username": gateway.username,
                     "sms.password": gateway.password, "sms.callback_url": base, "sms.callback_token": token,
                     "sms.public_url": base, "web.trusted_proxies": ["127.0.0.1/32"]}


class WebCitizens:
    """Residents using the portal, one every ``every`` simulated seconds."""

    every = 300.0          # simulated seconds between two web reports
    code_wait = 20.0       # real seconds a resident waits for an SMS code
    rate_share = 0.7       # of replied orders, the share rated online (the rest wait for the call)

    def __init__(self, reactor, clock, base: str, phone, service, stats: Counter, rnd):
        self.reactor = reactor
        self.clock = clock
        self.base = base
        self.phone = phone             # the fake SMSC's handsets
        self.service = service
        self.stats = stats
        self.rnd = rnd
        self.mine: dict[str, dict] = {}   # order number → {"phone", "address", "done"}
        self._busy: defer.Deferred | None = None
        self.seq = 0

    def tick(self):
        if self._busy is not None:
            return None
        self._busy = d = defer.ensureDeferred(self._round())
        d.addErrback(self._failed)
        d.addBoth(lambda _: setattr(self, "_busy", None))
        return d

    def drain(self) -> defer.Deferred:
        return self._busy if self._busy is not None else defer.succeed(None)

    def _failed(self, failure):
        self.stats["web_errors"] += 1
        log.warning("demo web citizen: %s", failure.getErrorMessage())

    async def _round(self):
        await self._report()
        for number, who in list(self.mine.items()):
            if who["done"]:
                continue
            from ticketing.service import Actor

            order = await deferToThread(self.service.get, number, Actor("demo:citizen", "supervisor"),
                                        now=now_from(self.clock))
            if order["status"] == "replied":
                who["done"] = True
                if self.rnd.random() < self.rate_share:
                    await self._track_and_rate(number, who)
            elif order["status"] in ("closed", "cancelled", "merged"):
                who["done"] = True

    # -- HTTP like a browser -------------------------------------------------------------------
    async def _post(self, path: str, who: dict, data=None, body=None, ctype=None, cookies=None):
        headers = {"Origin": [self.base], "X-Forwarded-For": [who["address"]]}
        if ctype:
            headers["Content-Type"] = [ctype]
        if cookies:
            headers["Cookie"] = ["; ".join(f"{k}={v}" for k, v in cookies.items())]
        resp = await treq.post(self.base + path, data=data if data is not None else body, headers=headers,
                               allow_redirects=False, reactor=self.reactor, persistent=False)
        text = (await treq.content(resp)).decode("utf-8", "replace")
        jar = {}
        for raw in resp.headers.getRawHeaders(b"set-cookie", []):
            name, _, rest = raw.decode("latin-1").partition("=")
            jar[name.strip()] = rest.split(";", 1)[0]
        return resp.code, text, resp.headers, jar

    async def _code(self, phone: str, seen: int) -> str | None:
        """The newest code on the handset once more than ``seen`` codes arrived (None: none came)."""
        waited = 0.0
        while waited < self.code_wait:
            texts = await deferToThread(self.phone.to, phone)
            codes = re.findall(r"验证码(\d{6})|code is (\d{6})", " ".join(texts))
            if len(codes) > seen:
                return "".join(codes[-1])
            await task.deferLater(self.reactor, 0.3, lambda: None)
            waited += 0.3
        return None

    async def _codes_so_far(self, phone: str) -> int:
        texts = await deferToThread(self.phone.to, phone)
        return len(re.findall(r"验证码(\d{6})|code is (\d{6})", " ".join(texts)))

    async def _report(self):
        self.seq += 1
        category, district, street, text = self.rnd.choice(REPORTS)
        who = {"phone": "135" + f"{self.rnd.randrange(10 ** 8):08d}",
               "address": f"10.{self.rnd.randrange(256)}.{self.rnd.randrange(256)}.{self.rnd.randrange(1, 255)}",
               "done": False}
        seen = await self._codes_so_far(who["phone"])
        status, html, _, _ = await self._post("/report", who, data={
            "text": f"{street}{self.rnd.randrange(1, 300)}号附近，{text}", "place": district,
            "address": f"{street}{self.rnd.randrange(1, 300)}号", "phone": who["phone"]})
        ticket = re.search(r'name="ticket" value="([^"]+)"', html)
        if status != 200 or ticket is None:
            self.stats["web_refused"] += 1
            return
        code = await self._code(who["phone"], seen)
        if code is None:
            self.stats["web_no_code"] += 1
            return
        proposed = re.search(r'<option value="([^"]+)" selected>', html)
        fields = {"ticket": ticket.group(1), "code": code,
                  "category": proposed.group(1) if proposed else category}
        photos = [_photo(self.rnd)] if self.seq % 2 else []
        body, ctype = _multipart(fields, photos)
        status, _, headers, jar = await self._post("/report/confirm", who, body=body, ctype=ctype)
        location = (headers.getRawHeaders(b"location") or [b""])[0].decode("ascii", "replace")
        found = re.match(r"/track/(\d+)", location)
        if status != 303 or found is None:
            self.stats["web_refused"] += 1
            return
        self.mine[found.group(1)] = who
        self.stats["web_reports"] += 1
        self.stats["web_photos"] += len(photos)

    async def _track_and_rate(self, number: str, who: dict):
        seen = await self._codes_so_far(who["phone"])
        status, html, _, _ = await self._post("/track", who, data={"number": number, "phone": who["phone"]})
        ticket = re.search(r'name="ticket" value="([^"]+)"', html)
        code = await self._code(who["phone"], seen) if status == 200 and ticket else None
        if code is None:
            self.stats["web_refused"] += 1
            return
        status, _, _, jar = await self._post("/track/verify", who, data={"ticket": ticket.group(1),
                                                                        "number": number, "code": code})
        if status != 303 or "hotline_track" not in jar:
            self.stats["web_refused"] += 1
            return
        self.stats["web_tracked"] += 1
        answer = self.rnd.choice(ANSWERS)
        status, _, _, _ = await self._post(f"/track/{number}/rate", who, data={"answer": answer, "comment": ""},
                                           cookies=jar)
        self.stats["web_rated" if status == 303 else "web_rating_refused"] += 1


def _photo(rnd) -> tuple[str, bytes]:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))).save(buf, "JPEG")
    return "photo.jpg", buf.getvalue()


def _multipart(fields: dict, files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                     .encode("utf-8"))
    for filename, data in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="{filename}"\r\n'
                     f"Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
