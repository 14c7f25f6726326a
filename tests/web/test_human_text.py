"""Human text everywhere: times in the hotline's zone to the minute, durations in words, every code by its
name in the page's language, and a catalogue with no key missing in either language."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest_twisted

from callcenter.web.names import Names
from callcenter.web.templates import Templates, duration
from tests.web.conftest import ORDER, staff_for
from tests.web.human import KINDS, code_words, raw_findings, visible_text

ROOT = Path(__file__).resolve().parents[2] / "callcenter"


def test_durations_read_as_minutes_and_seconds_in_each_language():
    assert duration(80, "zh") == "1 分 20 秒" and duration(80, "en") == "1 min 20 s"
    assert duration(7.4, "zh") == "7 秒" and duration(120, "en") == "2 min"
    assert duration(3725, "zh") == "1 小时 2 分" and duration(3725, "en") == "1 h 2 min"
    assert duration(None) == "" and duration(0, "en") == "0 s"


def test_times_show_in_shanghai_to_the_minute_and_live_ones_to_the_second():
    t = Templates()
    stamp = "2026-12-04T02:35:00.917087+00:00"
    assert t.local(stamp) == "2026-12-04 10:35"
    assert t.local(datetime(2026, 12, 4, 2, 35, 9)) == "2026-12-04 10:35"   # naive = stored UTC (SQLite)
    assert t.local_seconds(datetime(2026, 12, 4, 2, 35, 9, tzinfo=timezone.utc)) == "10:35:09"
    assert t.local(None) == ""


def test_every_code_of_every_kind_has_a_name_in_both_languages(web):
    """Departments, categories, districts, statuses, actions, roles, agent states, pause reasons, queues,
    outcomes and IVR nodes: each named code has a Chinese and an English name, neither the code itself."""
    names = web.deps.templates.names
    assert names.taxonomy is not None
    for kind in KINDS:
        codes = names.all_codes(kind)
        assert codes, kind
        for code in codes:
            zh, en = names.name(kind, code, "zh"), names.name(kind, code, "en")
            assert zh != code and en != code and re.search(r"[\u4e00-\u9fff]", zh), (kind, code, zh, en)
    assert names.name("department", "water", "zh") == "水务集团"
    assert names.name("queue", "no-such-queue", "zh") == "no-such-queue"   # unnamed: shown as configured


def test_catalogue_has_every_key_in_both_languages_and_every_template_key_exists(web):
    """With every feature loaded, no catalogue entry lacks Chinese or English, and every literal t('…')
    of every template is in the catalogue (a missing one would fail only when that branch renders)."""
    from callcenter.web.i18n import CATALOGUE, missing_translations

    assert missing_translations() == []
    missing = []
    for template in ROOT.glob("*/templates/*.html"):
        for key in re.findall(r"""\bt\(\s*['"]([\w.\-]+)['"]\s*\)""", template.read_text("utf-8")):
            if key not in CATALOGUE:
                missing.append(f"{template.relative_to(ROOT)}: {key}")
    assert missing == []


async def _seed(web):
    """An order through its life (dispatched, acknowledged, extension asked) and staff of every role."""
    staff = await staff_for(web)
    number = (await staff.agent.post("/api/v1/workorders", json=ORDER)).json["number"]
    assert (await staff.dispatcher.post(f"/api/v1/workorders/{number}/dispatch", json={})).status == 200
    assert (await staff.dept.post(f"/api/v1/workorders/{number}/acknowledge", json={})).status == 200
    assert (await staff.supervisor.get(f"/api/v1/workorders/{number}")).status == 200  # a row of /supervisor/audit
    web.add_user("admin1", "admin")
    return number


@pytest_twisted.ensureDeferred
async def test_pages_of_every_role_show_no_raw_code_or_iso_time(web):
    """Each role's pages, in Chinese and English, as rendered by the server: no ISO timestamp and no raw
    code (department, status, role, queue …) in the visible text."""
    number = await _seed(web)
    codes = code_words(web.deps.templates.names)
    pages = {
        "dept1": ["/dept", f"/dept/orders/{number}"],
        "sup1": ["/dept", f"/dept/orders/{number}", "/supervisor", "/supervisor/calls", "/reports",
                 "/supervisor/restricted", "/supervisor/audit", "/callbacks", "/wallboard"],
        "disp1": ["/dept", "/callbacks", "/wallboard"],
        "admin1": ["/admin/users"],
    }
    problems = []
    for user, paths in pages.items():
        browser = web.client()
        assert (await browser.login(user)).status == 303
        for path in paths:
            for lang in ("zh", "en"):
                page = await browser.get(path + ("&" if "?" in path else "?") + f"lang={lang}")
                assert page.status == 200, (user, path, page.status)
                problems += [f"{user} {path} {lang}: {p}" for p in raw_findings(visible_text(page.text), lang, codes)]
    assert problems == []
