"""``/healthz``, ``/metrics`` and ``/static``: the operator-facing basics."""
from __future__ import annotations

import mimetypes
from importlib import metadata as pkg_metadata
from pathlib import Path

from sqlalchemy import text
from twisted.web.resource import Resource

from callcenter.metrics import exposition
from callcenter.web.app import _error_response, json_response
from callcenter.web.errors import not_found

STATIC = Path(__file__).parent / "static"


def version() -> str:
    try:
        return pkg_metadata.version("hotline-callcenter")
    except pkg_metadata.PackageNotFoundError:
        return "0.0.0+local"


def ami_health(ami) -> dict:
    """The AMI link as /healthz shows it: logged in and resynchronised, else why not."""
    report = {"connected": bool(ami.ready), "connections": ami.connections}
    error = getattr(ami, "last_error", None)
    if not ami.ready and error is not None:
        report["error_id"] = getattr(error, "error_id", type(error).__name__)
    return report


def _ping(engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


class StaticFiles(Resource):
    """The regular files directly inside one folder, by exact name; nothing else.

    Used instead of ``twisted.web.static.File``, whose import alone raises
    Twisted's DeprecationWarnings (its class attributes build the deprecated
    unescaped error pages) and which would list directories unless told not to.
    Only names present when the resource is made are served, so there is no
    path to traverse and no listing.  The files are small CSS/JS assets.
    """

    isLeaf = True
    cache_seconds = 300

    def __init__(self, directory: Path):
        super().__init__()
        self.directory = Path(directory)
        self.names = frozenset(p.name for p in self.directory.iterdir()
                               if p.is_file() and not p.name.startswith("."))

    def render_GET(self, request):
        name = request.postpath[0].decode("utf-8", "replace") if len(request.postpath) == 1 else ""
        if name not in self.names:
            return _error_response(request, not_found(path=request.path.decode("utf-8", "replace")[:200]))
        ctype, _ = mimetypes.guess_type(name)
        ctype = ctype or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        request.setHeader(b"Content-Type", ctype.encode("ascii"))
        request.setHeader(b"Cache-Control", f"max-age={self.cache_seconds}".encode("ascii"))
        return (self.directory / name).read_bytes()


def routes(app) -> None:
    deps = app.deps
    app.mount("static", StaticFiles(STATIC))

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
        healthy = db_ok
        ami = deps.extras.get("ami")
        if ami is not None:
            # the process that drives calls: without a logged-in AMI link no call is answered
            body["ami"] = ami_health(ami)
            if not body["ami"]["connected"]:
                healthy = False
                body["status"] = "degraded"
            # every sound the controller may play must exist, or Asterisk ends the caller's AGI session
            from ivr.sounds import missing_sounds_for

            library = deps.extras.get("ivr_library")  # the flows in service, not a fresh read of the files
            flows = list(library.flows.values()) if library is not None else None
            missing = await deps.db(missing_sounds_for, deps.config, flows)
            body["sounds"] = {"missing": len(missing), "names": missing[:20]}
            if missing:
                healthy = False
                body["status"] = "degraded"
        role = deps.extras.get("role")  # "web" or "standby": a process that serves pages but drives no calls
        if role:
            body["role"] = role
            if role == "standby" and healthy:
                body["status"] = "standby"
        return json_response(request, body, 200 if healthy else 503)

    @app.route("/metrics", methods=["GET"])
    def metrics(request):
        payload, content_type = exposition()
        request.setHeader(b"Content-Type", content_type.encode())
        request.setHeader(b"Cache-Control", b"no-store")
        return payload
