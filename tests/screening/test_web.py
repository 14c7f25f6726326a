"""/supervisor/restricted over real HTTP on SQLite and PostgreSQL: supervisors restrict and lift
numbers with a reason; refusals say why and change nothing; agents and forged posts are refused;
the IVR's screen in the same process follows at once."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
import pytest_twisted
from twisted.internet import defer

from callcenter.screening.service import CallerScreen, RestrictionList
from tests.web.conftest import csrf_of, post_form, serving, signed_in

PAGE = "/supervisor/restricted"


@pytest.fixture
def server(db_url):
    with serving(db_url, sup1="supervisor", agent1="agent") as server:
        yield server


def _supervisor(server):
    return signed_in(server, "sup1")


def _post(client, path: str, **fields):
    return post_form(client, PAGE, path, **fields)


@pytest_twisted.ensureDeferred
async def test_a_supervisor_restricts_a_number_the_ivr_follows_at_once_and_lifting_frees_it(server):
    """The form restricts +86 139 0000 9999 for 7 days (303, listed in force with reason and author,
    the reason escaped), and this process's IVR screen matches it without waiting for its interval;
    Lift ends it, and the screen lets the number through again."""
    from twisted.internet import reactor

    screen = CallerScreen(RestrictionList(server.engine), reactor, lambda fn, *a: defer.maybeDeferred(fn, *a))
    server.deps.extras["caller_screen"] = screen
    sup = await _supervisor(server)
    done = await _post(sup, PAGE, number="+86 139 0000 9999", reason="辱骂坐席 <script>", days="7")
    assert done.status == 303 and done.header("location") == PAGE + "?done=added"
    page = (await sup.get(PAGE + "?done=added")).text
    assert 'data-state="in_force"' in page and "13900009999" in page and "sup1" in page
    assert "辱骂坐席 &lt;script&gt;" in page and "<script>" not in page.split("<main")[1]
    assert screen.is_restricted("13900009999", server.deps.now())
    (row,) = RestrictionList(server.engine).listing(server.deps.now())
    shanghai = row.until.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert f"<td>{shanghai}</td>" in page  # the end in the hotline's time zone, not UTC
    lifted = await _post(sup, f"{PAGE}/{row.id}/lift")
    assert lifted.header("location") == PAGE + "?done=lifted"
    assert 'data-state="lifted"' in (await sup.get(PAGE)).text
    assert not screen.is_restricted("13900009999", server.deps.now())


@pytest.mark.parametrize("fields, error_id", [
    ({"number": "12", "reason": "x", "days": "7"}, "screening.bad_number"),
    ({"number": "13900009999", "reason": "", "days": "7"}, "screening.bad_reason"),
    ({"number": "13900009999", "reason": "x", "days": "365"}, "screening.bad_days"),
    ({"number": "13900009999", "reason": "x", "days": "7 days"}, "screening.bad_days"),
])
@pytest_twisted.ensureDeferred
async def test_a_refused_restriction_says_why_keeps_the_form_and_stores_nothing(server, fields, error_id):
    """Each bad field gets the page again (400) naming the error, with what was typed; nothing is stored."""
    sup = await _supervisor(server)
    resp = await _post(sup, PAGE, **fields)
    assert resp.status == 400 and f'data-error-id="{error_id}"' in resp.text
    assert f'value="{fields["number"]}"' in resp.text
    assert RestrictionList(server.engine).listing(server.deps.now()) == []


@pytest_twisted.ensureDeferred
async def test_agents_and_forged_posts_cannot_restrict_and_unknown_ids_are_not_found(server):
    """An agent gets 403 on the page and the form; a supervisor's post without the CSRF token is refused;
    lifting an id that is not in force answers 404 on the page; the list stays empty."""
    agent = server.client()
    await agent.login("agent1")
    assert (await agent.get(PAGE)).status == 403
    token = csrf_of((await agent.get("/callbacks")).text)
    assert (await agent.post(PAGE, data={"csrf_token": token, "number": "13900009999", "reason": "x",
                                         "days": "7"})).status == 403
    sup = await _supervisor(server)
    assert (await sup.post(PAGE, data={"number": "13900009999", "reason": "x", "days": "7"})).status == 403
    for bad in ("9999", "abc"):
        missing = await _post(sup, f"{PAGE}/{bad}/lift")
        assert missing.status == 404 and 'data-error-id="screening.not_found"' in missing.text
    assert RestrictionList(server.engine).listing(server.deps.now()) == []
    page = (await sup.get(PAGE + "?lang=en")).text
    assert "Restricted callers" in page and 'href="/supervisor/restricted"' in page
