"""``/healthz``, ``/metrics`` and ``/static``: the operator-facing basics."""
from __future__ import annotations

from importlib import metadata as pkg_metadata
from pathlib import Path

from sqlalchemy import text
from twisted.web.static import File

from callcenter.metrics import exposition
from callcenter.web.app import json_response

STATIC = Path(__file__).parent / "static"


def version() -> str:
    try:
        return pkg_metadata.version("hotline-callcenter")
    except pkg_metadata.PackageNotFoundError:
        return "0.0.0+local"


def _ping(engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def routes(app) -> None:
    deps = app.deps
    static = File(str(STATIC))
    static.directoryListing = lambda: File.childNotFound
    app.mount("static", static)

    @app.route("/healthz", methods=["GET"])
    async def healthz(request):
        try:
            await deps.db(_ping, deps.engine)
            db_ok, error = True, None
        except Exception as exc:  # noqa: BLE001 - the point is to report it
            db_ok, error = False, type(exc).__name__
        body = {"status": "ok" if db_ok else "degraded", "db": {"reachable": db_ok, "backend": deps.engine.dialect.name},
                "version": version()}
        if error:
            body["db"]["error"] = error
        return json_response(request, body, 200 if db_ok else 503)

    @app.route("/metrics", methods=["GET"])
    def metrics(request):
        payload, content_type = exposition()
        request.setHeader(b"Content-Type", content_type.encode())
        request.setHeader(b"Cache-Control", b"no-store")
        return payload
