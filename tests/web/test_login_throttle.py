"""The log-in throttle: the pure lock rule, the database store on both backends, and the real app over HTTP."""
from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
import pytest_twisted
from sqlalchemy import func, select
from twisted.internet.task import Clock

from callcenter.auth.tables import login_failures
from callcenter.auth.throttle import Attempt, LoginThrottle, Lockout, lockout_until, pair_key, username_key
from tests.web.conftest import PASSWORD, start_server, stop_server

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
WINDOW = timedelta(minutes=15)
CORE = ("callcenter.web.health", "callcenter.auth.web")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- the rule, with explicit times ---------------------------------------------------------------

def test_lock_needs_limit_failures_inside_the_window():
    """Four failures lock nothing; the fifth locks until the first of them is a window old."""
    four = [at(s) for s in (0, 10, 20, 30)]
    assert lockout_until(four, 5, WINDOW, at(31)) is None
    five = four + [at(40)]
    assert lockout_until(five, 5, WINDOW, at(41)) == at(0) + WINDOW
    assert lockout_until(five, 5, WINDOW, at(0) + WINDOW - timedelta(seconds=1)) == at(0) + WINDOW
    assert lockout_until(five, 5, WINDOW, at(0) + WINDOW) is None  # the first one has aged out


def test_failures_outside_the_window_or_in_the_future_do_not_count():
    """Old failures and ones timestamped after `now` are ignored; the most recent `limit` decide the end."""
    old = [at(-WINDOW.total_seconds() - 1)] * 10
    assert lockout_until(old + [at(1), at(2)], 3, WINDOW, at(3)) is None
    assert lockout_until([at(1), at(2), at(3), at(100)], 3, WINDOW, at(4)) == at(1) + WINDOW
    seven = [at(s) for s in range(7)]  # more than the limit: the lock lasts until only limit-1 remain
    assert lockout_until(seven, 5, WINDOW, at(7)) == at(2) + WINDOW


def test_lockout_reports_whole_seconds_and_minutes_rounded_up():
    """Retry-After is whole seconds, rounded up and at least 1; minutes for people likewise."""
    lock = Lockout("username", "alice", at(900), 5)
    assert lock.retry_after(at(0)) == 900 and lock.minutes(at(0)) == 15
    assert lock.retry_after(at(899.2)) == 1 and lock.minutes(at(899.2)) == 1
    assert lock.retry_after(at(839.5)) == 61 and lock.minutes(at(839.5)) == 2
    assert lock.retry_after(at(950)) == 1


def test_user_names_count_case_and_space_insensitively():
    """The throttle keys user names the way the password check reads them."""
    assert username_key("  Alice ") == username_key("alice") == "alice"
    assert username_key(None) == ""
    assert len(username_key("x" * 500)) == 40


# -- the store, on SQLite and PostgreSQL ----------------------------------------------------------

@pytest.fixture
def store(db_url):
    from callcenter.db import make_engine

    engine = make_engine(db_url)
    yield LoginThrottle(engine, Clock())
    engine.dispose()


def test_store_locks_a_user_name_at_one_address_and_lifts_when_the_window_passes(store):
    """Five failures for one name from one address lock that name there, whatever its spelling, until the
    first is 15 min old; the same name from another address, and other names from this one, go ahead."""
    for i in range(4):
        assert store.record_failure("Alice", "198.51.100.9", at(i)) is None
    lock = store.record_failure("alice ", "198.51.100.9", at(4))
    assert lock == Lockout("pair", pair_key("alice", "198.51.100.9"), at(0) + WINDOW, 5)
    assert store.check("ALICE", "198.51.100.9", at(5)) == lock
    assert store.check("alice", "203.0.113.1", at(5)) is None  # Alice at her own desk is not locked out
    assert store.check("bob", "198.51.100.9", at(5)) is None  # nor are other names at the guesser's address
    assert store.check("alice", "198.51.100.9", at(0) + WINDOW - timedelta(seconds=1)) is not None
    assert store.check("alice", "198.51.100.9", at(0) + WINDOW) is None


def test_store_locks_a_user_name_everywhere_when_guesses_come_from_many_addresses(store):
    """Fifty failures for one name, five from each of ten addresses, lock the name from every address;
    forty-nine do not (from an address that has not guessed)."""
    for i in range(49):
        store.record_failure("alice", f"198.51.100.{i // 5}", at(i))
    assert store.check("alice", "203.0.113.1", at(49)) is None
    store.record_failure("alice", "198.51.100.9", at(49))
    assert store.check("alice", "203.0.113.1", at(50)) == Lockout("username", "alice", at(0) + WINDOW, 50)
    assert store.check("bob", "203.0.113.1", at(50)) is None


def test_pair_keys_fit_the_key_column_and_follow_the_user_name_rule():
    """A long name and a long IPv6 address still fit the 64-character key; the name stays readable and
    its spelling does not matter, the address does."""
    key = pair_key("x" * 500, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff%eth0" * 3)
    assert len(key) <= 64 and key.startswith("x" * 40 + "|")
    assert pair_key(" Alice", "192.0.2.1") == pair_key("alice", "192.0.2.1") != pair_key("alice", "192.0.2.10")


def test_unlock_forgets_a_name_from_every_address_but_not_the_addresses(store):
    """An operator's unlock lifts the name's locks at each address and everywhere; another name that
    shares its prefix, and the guessing addresses' own counts, are kept."""
    store.max_per_username, store.max_per_address = 10, 11
    for i in range(10):
        store.record_failure("alice", f"198.51.100.{i // 5}", at(i))
    for i in range(5):
        store.record_failure("alice_b", "198.51.100.0", at(10 + i))  # "_" would match any character in LIKE
    assert store.check("alice", "203.0.113.1", at(20)).scope == "username"
    assert store.unlock("ALICE") == 10
    assert store.check("alice", "203.0.113.1", at(20)) is None
    assert store.check("alice", "198.51.100.1", at(20)) is None
    assert store.check("alice_b", "203.0.113.1", at(20)) is None  # its own 5 failures, at one address
    assert store.check("alice_b", "198.51.100.0", at(20)).scope == "pair"
    assert store.check("carol", "198.51.100.0", at(20)) is None  # 10 from that address (alice, alice_b), under 11
    store.record_failure("carol", "198.51.100.0", at(21))
    assert store.check("dave", "198.51.100.0", at(22)).scope == "address"  # the address kept its 10, now 11


def test_locked_names_lists_names_locked_somewhere_or_everywhere_with_the_longest_end(store):
    """The accounts page's list: a name locked at one address, a name locked everywhere (its longer lock
    wins), and not a name with fewer failures than a limit or a locked address."""
    store.max_per_username = 6
    for i in range(5):
        store.record_failure("alice", "198.51.100.1", at(i))
        store.record_failure("bob", "198.51.100.2", at(i))
    store.record_failure("bob", "198.51.100.3", at(100))  # bob's sixth: locked everywhere until at(0)+W
    for i in range(4):
        store.record_failure("carol", "198.51.100.4", at(i))
    for i in range(20):
        store.record_failure(f"guess{i}", "203.0.113.9", at(i))  # the address is locked, no name is
    assert store.locked_names(at(101)) == {"alice": at(0) + WINDOW, "bob": at(0) + WINDOW}
    store.record_failure("bob", "198.51.100.2", at(200))  # bob's pair lock now ends later
    assert store.locked_names(at(201))["bob"] == at(1) + WINDOW
    assert store.locked_names(at(0) + WINDOW + timedelta(seconds=2)) == {}  # failures aged out


def test_users_unlock_command_lifts_a_lock_and_refuses_unknown_names(db_url, monkeypatch, capsys):
    """`callcenter users unlock NAME` lets a locked-out agent log in again and says how many failures it
    forgot; a name that is not an account is an error (exit 2) and changes nothing."""
    import callcenter.logs
    from callcenter.cli import main
    from callcenter.db import make_engine

    monkeypatch.setattr(callcenter.logs, "setup_logging", lambda *a, **k: None)
    monkeypatch.setenv("HOTLINE_TEST_PW", PASSWORD)
    monkeypatch.setenv("CALLCENTER_AUTH_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CALLCENTER_AUTH_ARGON2_MEMORY_KIB", "1024")
    assert main(["users", "--url", db_url, "add", "agent7", "--role", "agent", "--password-env", "HOTLINE_TEST_PW"]) == 0
    engine = make_engine(db_url)
    try:
        throttle = LoginThrottle(engine, Clock())
        for i in range(5):
            throttle.record_failure("agent7", "192.0.2.44", at(i))
        throttle.record_failure("nobody", "192.0.2.44", at(5))
        assert throttle.check("agent7", "192.0.2.44", at(6)) is not None
        capsys.readouterr()
        assert main(["users", "--url", db_url, "unlock", "nobody"]) == 2
        assert "user.not_found" in capsys.readouterr().err
        assert main(["users", "--url", db_url, "unlock", "Agent7"]) == 0
        assert capsys.readouterr().out.strip() == "unlocked Agent7 (5 failed log-ins forgotten)"
        assert throttle.check("agent7", "192.0.2.44", at(6)) is None
        with engine.connect() as conn:
            left = sorted(conn.execute(select(login_failures.c.scope)).scalars())
        assert left == ["address"] * 6 + ["pair", "username"]  # the address's count, and nobody's own
    finally:
        engine.dispose()


def test_store_locks_an_address_across_user_names(store):
    """Twenty failures from one address over many names lock that address, not the others."""
    for i in range(19):
        assert store.record_failure(f"user{i}", "203.0.113.7", at(i)) is None
    lock = store.record_failure("user19", "203.0.113.7", at(19))
    assert lock is not None and lock.scope == "address" and lock.key == "203.0.113.7"
    assert store.check("someone-else", "203.0.113.7", at(20)) is not None
    assert store.check("someone-else", "203.0.113.8", at(20)) is None


def test_success_clears_the_user_name_but_not_the_address(store):
    """A right password forgets the name's failures; the address keeps its count."""
    store.max_per_address = 6
    for i in range(4):
        store.record_failure("carol", "192.0.2.1", at(i))
    store.attempt_succeeded(Attempt(None), "Carol", "192.0.2.1", at(3))
    assert store.record_failure("carol", "192.0.2.1", at(4)) is None
    lock = store.record_failure("carol", "192.0.2.1", at(5))  # the address's sixth failure
    assert lock is not None and lock.scope == "address"
    assert store.check("carol", "192.0.2.2", at(6)) is None  # six failures for the name, but only two since
    assert store.check("dave", "192.0.2.1", at(6)) is not None


def test_the_longer_lock_wins_and_old_rows_are_purged(store):
    """When name and address are both locked the later end is reported; expired rows are deleted."""

    store.max_per_username, store.max_per_address = 2, 3
    store.record_failure("erin", "192.0.2.5", at(0))
    store.record_failure("x1", "192.0.2.5", at(1))
    store.record_failure("erin", "192.0.2.5", at(2))  # name: 0, 2 -> until 0+W; address: 0, 1, 2 -> until 0+W
    store.record_failure("x2", "192.0.2.5", at(100))
    lock = store.check("erin", "192.0.2.5", at(101))
    assert lock.scope == "address" and lock.until == at(1) + WINDOW  # address lasts longer than the name
    later = at(100) + WINDOW + timedelta(minutes=5)
    store.record_failure("frank", "192.0.2.99", later)
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(login_failures)).scalar_one() == 3  # frank: 3 scopes


def test_limits_come_from_configuration():
    """auth.login_* keys override the class defaults; nonsense limits are refused."""
    from callcenter.config import load_config

    config = load_config(None, environ={}).with_overrides({
        "auth.login_max_failures_per_name_and_address": 4, "auth.login_max_failures_per_username": 3,
        "auth.login_max_failures_per_address": 7, "auth.login_window_minutes": 2})
    throttle = LoginThrottle.from_config(None, Clock(), config)
    assert (throttle.max_per_name_and_address, throttle.max_per_username, throttle.max_per_address,
            throttle.window) == (4, 3, 7, timedelta(minutes=2))
    defaults = LoginThrottle.from_config(None, Clock(), load_config(None, environ={}))
    assert (defaults.max_per_name_and_address, defaults.max_per_username, defaults.max_per_address,
            defaults.window) == (5, 50, 20, WINDOW)
    for bad in ({"max_per_username": 0}, {"max_per_name_and_address": 0}, {"max_per_address": -1}):
        with pytest.raises(ValueError):
            LoginThrottle(None, Clock(), **bad)


def test_thirty_simultaneous_attempts_are_counted_one_by_one(store):
    """Check and count are one atomic step: of 30 attempts racing from 30 threads at one name and address,
    exactly five (the pair limit) go ahead and 25 are refused, on SQLite and PostgreSQL."""
    import threading

    barrier = threading.Barrier(30)
    results = []

    def attempt():
        barrier.wait()
        results.append(store.begin_attempt("agent1", "203.0.113.7", at(1)))

    threads = [threading.Thread(target=attempt) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    admitted = [a for a in results if a.lock is None]
    assert len(results) == 30 and len(admitted) == 5
    assert {a.lock.scope for a in results if a.lock is not None} == {"pair"}


def test_guesses_from_elsewhere_never_lock_a_user_out_of_their_own_desk(store):
    """After agent1 has logged in at their desk, 50 guesses from ten other addresses lock the name
    everywhere else, but not at the desk; a new address is refused."""
    desk = "10.1.2.3"
    ok = store.begin_attempt("agent1", desk, at(0))
    store.attempt_succeeded(ok, "agent1", desk, at(0))
    for i in range(50):
        store.record_failure("agent1", f"198.51.100.{i // 5}", at(1 + i))
    assert store.check("agent1", "198.51.100.200", at(60)).scope == "username"
    assert store.check("agent1", desk, at(60)) is None
    assert store.begin_attempt("agent1", desk, at(60)).lock is None
    # the desk's own pair limit still holds there
    for i in range(4):
        store.begin_attempt("agent1", desk, at(61 + i))
    assert store.begin_attempt("agent1", desk, at(70)).lock.scope == "pair"


def test_a_right_password_takes_back_its_attempt_rows(store):
    """A successful attempt leaves no failure behind, not even on the address count."""
    store.max_per_address = 2
    for i in range(3):
        attempt = store.begin_attempt(f"user{i}", "192.0.2.50", at(i))
        assert attempt.lock is None
        store.attempt_succeeded(attempt, f"user{i}", "192.0.2.50", at(i))
    assert store.check("user9", "192.0.2.50", at(5)) is None


# -- through the real app -------------------------------------------------------------------------

@pytest.fixture
def core(db_url):
    server = start_server(db_url, features=CORE)
    clock = Clock()
    clock.advance(time.time())  # the throttle's own clock, moved by the test instead of waiting 15 minutes
    server.deps.extras["login_throttle"].clock = clock
    server.clock = clock
    yield server
    stop_server(server)


async def _form_login(client, username, password, lang=""):
    page = await client.get("/login" + (f"?lang={lang}" if lang else ""))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return await client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                              "next": ""})


@pytest_twisted.ensureDeferred
async def test_sixth_wrong_log_in_is_refused_and_the_right_password_too_until_the_window_passes(core, caplog):
    """Five wrong passwords get 401; the sixth, and then the right password, get 429 with Retry-After
    (page and token endpoint) until 15 minutes have passed; then the right password works. The lock-out
    is logged with the user name and client address."""
    core.add_user("agent1", "agent")
    client = core.client()
    caplog.set_level(logging.WARNING, logger="callcenter.auth.web")
    for _ in range(5):
        assert (await _form_login(client, "agent1", "wrong-password")).status == 401
    locked = [r for r in caplog.records if getattr(r, "fields", {}).get("event") == "auth.lockout"]
    assert len(locked) == 1
    assert locked[0].fields["username"] == "agent1" and locked[0].fields["client"] == "127.0.0.1"
    assert locked[0].fields["scope"] == "pair"

    sixth = await _form_login(client, "agent1", "wrong-password")
    assert sixth.status == 429 and sixth.header("retry-after") == "900"
    assert "登录尝试过多，请 15 分钟后再试" in sixth.text
    right = await _form_login(client, "agent1", PASSWORD)
    assert right.status == 429 and "hotline_session" not in client.cookies
    english = await _form_login(client, "agent1", PASSWORD, lang="en")
    assert english.status == 429 and "Too many sign-in attempts; try again in 15 minutes" in english.text

    api = await core.client().post("/api/v1/tokens", json={"username": "agent1", "password": PASSWORD})
    assert api.status == 429 and api.json["error_id"] == "auth.throttled"
    assert api.header("retry-after") == "900" and api.json["details"]["retry_after_seconds"] == 900
    assert set(api.json) == {"error_id", "message", "details"} and "登录尝试过多" in api.json["message"]

    core.clock.advance(899)
    late = await _form_login(client, "agent1", PASSWORD)
    assert late.status == 429 and late.header("retry-after") == "1"
    core.clock.advance(1)
    ok = await _form_login(client, "agent1", PASSWORD)
    assert ok.status == 303 and "hotline_session" in client.cookies


@pytest_twisted.ensureDeferred
async def test_token_endpoint_counts_failures_and_a_success_resets_the_name(core):
    """Failures on the token endpoint and the page count together; a success in between starts the count over."""
    core.add_user("disp", "dispatcher")
    client = core.client()
    for _ in range(4):
        bad = await client.post("/api/v1/tokens", json={"username": "disp", "password": "nope-nope"})
        assert bad.status == 401
    assert (await client.post("/api/v1/tokens", json={"username": "disp", "password": PASSWORD})).status == 201
    for _ in range(4):
        assert (await _form_login(client, "disp", "nope-nope")).status == 401
    assert (await client.post("/api/v1/tokens", json={"username": "Disp", "password": "nope"})).status == 401
    refused = await client.post("/api/v1/tokens", json={"username": "disp", "password": PASSWORD})
    assert refused.status == 429 and refused.json["details"]["scope"] == "pair"


@pytest_twisted.ensureDeferred
async def test_unknown_user_names_are_throttled_like_real_ones(core):
    """Guessing at an account that does not exist locks the same way, so 429 does not reveal accounts."""
    client = core.client()
    for _ in range(5):
        assert (await _form_login(client, "nobody", "whatever-1")).status == 401
    assert (await _form_login(client, "nobody", "whatever-1")).status == 429


@pytest_twisted.ensureDeferred
async def test_parallel_wrong_passwords_over_http_get_five_401s_and_the_rest_429(core):
    """30 wrong passwords sent at once to the token endpoint: exactly five are checked (401), 25 are refused
    (429) — the throttle cannot be outrun by parallel requests."""
    from twisted.internet import defer

    core.add_user("agent1", "agent")
    clients = [core.client() for _ in range(30)]
    responses = await defer.gatherResults([
        defer.ensureDeferred(c.post("/api/v1/tokens", json={"username": "agent1", "password": "wrong-password"}))
        for c in clients])
    statuses = sorted(r.status for r in responses)
    assert statuses.count(401) == 5 and statuses.count(429) == 25
