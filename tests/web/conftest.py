"""A real web server on 127.0.0.1 (port 0) over each database, and a small client.

The client keeps cookies like a browser and never follows redirects, so
tests see exactly what the server answers.
"""
from __future__ import annotations

import json as jsonlib
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.cookies import SimpleCookie

import pytest
import pytest_twisted
import treq
from twisted.web.client import HTTPConnectionPool

PASSWORD = "correct-horse-42"


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_config(db_url: str):
    from callcenter.config import load_config

    return load_config(None, environ={}).with_overrides({
        "database.url": db_url,
        "web.secret_key": "test-secret",
        "auth.argon2_time_cost": 1,
        "auth.argon2_memory_kib": 1024,
        "auth.max_body_bytes": 64 * 1024,
        "attachments.dir": tempfile.mkdtemp(prefix="attachments-"),
    })


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    @property
    def json(self):
        return jsonlib.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Client:
    base: str
    cookies: dict = field(default_factory=dict)
    origin: bool = True

    async def request(self, method: str, path: str, *, json=None, data=None, body: bytes | None = None,
                      headers: dict | None = None) -> Response:
        from twisted.internet import reactor

        hdrs = {k: [v] for k, v in (headers or {}).items()}
        if self.cookies:
            hdrs["Cookie"] = ["; ".join(f"{k}={v}" for k, v in self.cookies.items())]
        if self.origin and method not in ("GET", "HEAD"):
            hdrs.setdefault("Origin", [self.base])
        kwargs = {}
        if json is not None:
            kwargs["data"] = jsonlib.dumps(json).encode()
            hdrs.setdefault("Content-Type", ["application/json"])
        elif data is not None:
            kwargs["data"] = data
        elif body is not None:
            kwargs["data"] = body
        pool = HTTPConnectionPool(reactor, persistent=False)
        resp = await treq.request(method, self.base + path, headers=hdrs, allow_redirects=False, pool=pool,
                                  **kwargs)
        content = await resp.content()
        headers_out = {}
        for name, values in resp.headers.getAllRawHeaders():
            headers_out[name.decode().lower()] = values[-1].decode("latin-1")
            if name.lower() == b"set-cookie":
                for raw in values:
                    cookie = SimpleCookie()
                    cookie.load(raw.decode("latin-1"))
                    for key, morsel in cookie.items():
                        if morsel["max-age"] == "0" or not morsel.value:
                            self.cookies.pop(key, None)
                        else:
                            self.cookies[key] = morsel.value
        headers_out["set-cookie-all"] = [v.decode("latin-1") for v in resp.headers.getRawHeaders(b"set-cookie", [])]
        return Response(resp.code, headers_out, content)

    async def get(self, path, **kw):
        return await self.request("GET", path, **kw)

    async def post(self, path, **kw):
        return await self.request("POST", path, **kw)

    async def login(self, username: str, password: str = PASSWORD) -> Response:
        import re

        page = await self.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return await self.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                               "next": ""})

    async def token(self, username: str, password: str = PASSWORD) -> str:
        resp = await self.post("/api/v1/tokens", json={"username": username, "password": password})
        assert resp.status == 201, resp.body
        return resp.json["token"]


@dataclass
class WebServer:
    base: str
    root: object
    engine: object
    config: object

    @property
    def deps(self):
        return self.root.deps

    def client(self, **kw) -> Client:
        return Client(self.base, **kw)

    def add_user(self, username: str, role: str, department: str | None = None, password: str = PASSWORD):
        return self.deps.auth.add_user(username, password, role, datetime.now(timezone.utc),
                                       display_name=username.title(), department=department)


_TICKETING: dict = {}


def _ticketing_parts(config):
    """Taxonomy and calendar are read-only data: load them once per test session."""
    if not _TICKETING:
        from ticketing.calendar_data import build_calendar
        from ticketing.taxonomy import load_taxonomy

        _TICKETING["taxonomy"] = load_taxonomy()
        _TICKETING["calendar"] = build_calendar(config.section("calendar"))
    return _TICKETING["taxonomy"], _TICKETING["calendar"]


def start_server(db_url: str, features=None, clock=None) -> WebServer:
    from twisted.internet import reactor

    from callcenter.bootstrap import build_web, make_site
    from callcenter.db import make_engine
    from ticketing.service import WorkOrderService

    config = test_config(db_url)
    engine = make_engine(db_url)
    taxonomy, calendar = _ticketing_parts(config)
    service = WorkOrderService(engine, taxonomy, calendar)
    root = build_web(config, reactor, engine=engine, features=features, workorders=service, clock=clock)
    port = reactor.listenTCP(0, make_site(root, config), interface="127.0.0.1")
    server = WebServer(f"http://127.0.0.1:{port.getHost().port}", root, engine, config)
    server._port = port
    return server


@contextmanager
def serving(db_url: str, **users: str):
    """The full web service on ``db_url`` with these accounts (user name = role), for a fixture."""
    server = start_server(db_url)
    for username, role in users.items():
        server.add_user(username, role)
    try:
        yield server
    finally:
        stop_server(server)


async def signed_in(server: WebServer, username: str) -> Client:
    """A browser-like client with ``username``'s session."""
    client = server.client()
    assert (await client.login(username)).status == 303
    return client


async def post_form(client: Client, page: str, path: str, **fields) -> Response:
    """Post a form to ``path`` with the CSRF token of ``page``, as the page's own form would."""
    token = csrf_of((await client.get(page)).text)
    return await client.post(path, data={"csrf_token": token, **fields})


def stop_server(server: WebServer) -> None:
    """Teardown from a fixture (outside the reactor greenlet)."""
    pytest_twisted.blockon(server._port.stopListening())
    _release(server)


async def stop_server_async(server: WebServer) -> None:
    """Teardown from inside a running test."""
    await server._port.stopListening()
    _release(server)


def _release(server: WebServer) -> None:
    from callcenter.bootstrap import close_web

    close_web(server.root)
    server.engine.dispose()


@pytest.fixture
def web(db_url):
    """The full web service (every feature) on a fresh database."""
    server = start_server(db_url)
    yield server
    stop_server(server)


ORDER = {
    "type": "complaint",
    "category": "illegal-construction",
    "district": "haishu",
    "summary": "小区楼顶违章搭建 / illegal rooftop structure",
    "description": "3号楼楼顶正在搭建彩钢板房。",
    "address": "海曙区某小区3号楼",
    "caller_name": "张三",
    "caller_phone": "13812341234",
}


@dataclass
class Staff:
    """Bearer-token clients for each role, plus department staff of ORDER's department."""

    agent: Client
    dispatcher: Client
    supervisor: Client
    dept: Client
    other_dept: Client
    department: str
    other_department: str


async def staff_for(server: WebServer) -> Staff:
    taxonomy = server.deps.workorders.taxonomy
    department = taxonomy.route(ORDER["category"], ORDER["district"])
    other = next(code for code in sorted(taxonomy.departments) if code != department)
    clients = {}
    for name, username, role, dept in (("agent", "agent1", "agent", None), ("dispatcher", "disp1", "dispatcher", None),
                                       ("supervisor", "sup1", "supervisor", None),
                                       ("dept", "dept1", "department", department),
                                       ("other_dept", "dept2", "department", other)):
        user = server.add_user(username, role, department=dept)
        token = server.deps.auth.issue_token(user, datetime.now(timezone.utc))  # the endpoint has its own tests
        clients[name] = BearerClient(server.base, token=token)
    return Staff(department=department, other_department=other, **clients)


@dataclass
class BearerClient(Client):
    token: str = ""

    async def request(self, method, path, *, headers=None, **kw):
        headers = dict(headers or {})
        headers.setdefault("Authorization", f"Bearer {self.token}")
        return await Client.request(self, method, path, headers=headers, **kw)
