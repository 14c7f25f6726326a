"""One error base with namespaced error ids (callcenter/errors.py, ticketing/domain/errors.py)."""
from __future__ import annotations

import importlib
import inspect

from tests.conftest import ROOT

#: control flow that never leaves its module: the PBX simulator imitating Asterisk's internals (a
#: channel hung up mid-application, a redirect, a dialplan that cannot run); private classes
#: (``_Gone``, ``_TimedOut`` …) are their module's own control flow too
SIMULATOR_INTERNALS = {"ChannelGone", "Redirected", "QueueError", "ScriptError", "DialplanError"}


def _our_exception_classes():
    for package in ("callcenter", "ivr", "ticketing"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts or path.name == "__main__.py":
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            module = importlib.import_module(name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == name and issubclass(cls, Exception):
                    yield name, cls


def test_every_error_of_ours_has_the_one_shape():
    """Every exception class in callcenter/, ivr/ and ticketing/ derives from HotlineError — or, in the
    stdlib-only work-order domain, DomainError — so every refusal carries error_id, message and details."""
    from callcenter.errors import HotlineError
    from ticketing.domain.errors import DomainError

    classes = list(_our_exception_classes())
    assert len(classes) > 40
    stray = [f"{module}.{cls.__name__}" for module, cls in classes
             if not issubclass(cls, (HotlineError, DomainError)) and cls.__name__ not in SIMULATOR_INTERNALS
             and not cls.__name__.startswith("_")]
    assert stray == []


def test_error_ids_are_namespaced():
    """Class-level error ids read room.what (the 14 bare work-order ids are gone)."""
    ids = {f"{m}.{c.__name__}": c.__dict__["error_id"] for m, c in _our_exception_classes() if "error_id" in c.__dict__}
    assert len(ids) > 20
    assert {k: v for k, v in ids.items() if "." not in v} == {}


def test_old_work_order_ids_map_to_the_new_ones_in_one_place():
    from ticketing.domain import errors

    sent = {cls.error_id for cls in vars(errors).values()
            if inspect.isclass(cls) and issubclass(cls, errors.DomainError)}
    assert sent <= set(errors.LEGACY_ERROR_IDS.values())
    assert all("." not in old for old in errors.LEGACY_ERROR_IDS)
    assert errors.NotFound("x").as_dict()["error_id"] == "workorder.not_found"


def test_a_feature_error_answers_over_http_with_its_id_and_status():
    """The web layer answers any HotlineError the same way (status from http_status)."""
    from callcenter.desk.service import DeskError
    from callcenter.routing.errors import RoutingError
    from callcenter.web.errors import error_payload

    assert error_payload(DeskError("desk.busy", "busy / 忙", status=409, agent="a1")) == (
        409, {"error_id": "desk.busy", "message": "busy / 忙", "details": {"agent": "a1"}})
    status, body = error_payload(RoutingError("routing.not_on_call", "agent is not on a call", agent="a1"))
    assert status == 400 and body["error_id"] == "routing.not_on_call" and body["details"] == {"agent": "a1"}
    assert error_payload(RuntimeError("boom"))[1]["error_id"] == "http.internal"
