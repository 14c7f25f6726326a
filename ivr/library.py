"""The set of flows a running service may start, by AGI argument.

Loading is all-or-nothing: every file is validated first, and a reload that
finds any broken file keeps the flows already in service, so a broken flow
file never reaches a live call.  Calls in progress keep the :class:`Flow`
object they started with.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ivr.flow import Flow, FlowError, FlowProblem, load_flow

log = logging.getLogger(__name__)

SHIPPED = Path(__file__).with_name("flows")

# AGI arguments of the dialplan contract → flow names (`AGI(agi:async,ivr)`;
# the real-Asterisk captures use `ivr-main`).
ALIASES = {"ivr": "hotline", "ivr-main": "hotline"}


class FlowLibrary:
    def __init__(self, directory: str | Path | None = None, aliases: dict[str, str] | None = None):
        self.directory = Path(directory) if directory else SHIPPED
        self.aliases = dict(ALIASES if aliases is None else aliases)
        self._flows: dict[str, Flow] = {}
        self.reload()

    def reload(self) -> dict[str, Flow]:
        """Load every ``*.yaml`` of the directory; raise :class:`FlowError` and
        keep the current flows if any file is broken."""
        flows: dict[str, Flow] = {}
        problems: list[FlowProblem] = []
        files = sorted(self.directory.glob("*.yaml"))
        if not files:
            raise FlowError([FlowProblem("ivr.flow.none", "no *.yaml flow files", str(self.directory))])
        for path in files:
            try:
                flow = load_flow(path)
            except FlowError as exc:
                problems.extend(exc.problems)
                continue
            if flow.name in flows:
                problems.append(FlowProblem("ivr.flow.duplicate_id", f"flow name {flow.name!r} used twice",
                                            str(path)))
            flows[flow.name] = flow
        if problems:
            log.error("flow reload refused", extra={"fields": {"problems": len(problems)}})
            raise FlowError(problems)
        self._flows = flows
        log.info("flows loaded", extra={"fields": {"flows": ",".join(sorted(flows))}})
        return dict(flows)

    def get(self, name: str) -> Flow | None:
        """The flow for an AGI argument or flow name (``None`` if not ours)."""
        return self._flows.get(self.aliases.get(name, name))

    @property
    def flows(self) -> dict[str, Flow]:
        return dict(self._flows)
