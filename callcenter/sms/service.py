"""Building the SMS delivery service from ``[sms]`` (serve and demo share it)."""
from __future__ import annotations

from callcenter.sms.kannel import KannelClient
from callcenter.sms.policy import QuietHours
from callcenter.sms.worker import SmsDelivery


def citizen_link(public_url: str):
    """The citizen's page an SMS points to: tracking (and rating, after a reply)."""
    base = public_url.rstrip("/")

    def link(kind: str, number: str) -> str:
        return f"{base}/track/{number}" + ("?rate=1" if kind == "replied" else "")
    return link


def quiet_hours(config) -> QuietHours:
    return QuietHours.parse(str(config.get("sms.quiet_start", "21:00")), str(config.get("sms.quiet_end", "08:00")),
                            str(config.get("calendar.timezone", "Asia/Shanghai")))


def build_sms(config, *, engine, clock, reactor, pool, sendsms_url: str | None = None,
              username: str | None = None, password: str | None = None) -> SmsDelivery | None:
    """The delivery service, or None when ``sms.enabled`` is off.  ``clock`` ticks it (the demo's
    scaled clock); ``reactor`` runs the HTTP client."""
    if not config.get("sms.enabled", False) and sendsms_url is None:
        return None
    client = KannelClient(sendsms_url or str(config.get("sms.sendsms_url")),
                          username=username or str(config.get("sms.username") or ""),
                          password=password or str(config.get("sms.password") or ""),
                          sender=str(config.get("sms.sender", "12345")),
                          dlr_base=str(config.get("sms.callback_url") or ""), reactor=reactor)
    service = SmsDelivery(engine, client, clock=clock, reactor=reactor, pool=pool, quiet=quiet_hours(config),
                          link=citizen_link(str(config.get("sms.public_url") or "http://127.0.0.1:8080")),
                          sign=(str(config.get("sms.sign", "12345热线")), str(config.get("sms.sign_en", "12345 Hotline"))))
    for key in ("interval", "base", "max_delay", "max_attempts"):
        if config.get(f"sms.{key}") is not None:
            setattr(service, key, type(getattr(SmsDelivery, key))(config.get(f"sms.{key}")))
    return service
