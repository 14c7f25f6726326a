"""Intake from the reactor: proposals, merge suggestions and corrections off the reactor thread.

Loading the data takes seconds (jieba's dictionary, the gazetteer's sound
index) and a proposal a few milliseconds of pure-Python CPU, so both run in a
thread pool, as do the corrections' database writes.  ``now`` comes from the
reactor's clock, so a ``task.Clock`` drives it in tests.
"""
from __future__ import annotations

from pathlib import Path

from callcenter.clock import now_from


class IntakeService:
    """The agent desk's and the dispatcher's way into :mod:`ticketing.intake`."""

    def __init__(self, reactor, threadpool, *, extractor_factory=None, corrections=None, taxonomy=None,
                 model_path=None, retrained_path=None):
        """``taxonomy``: the deployment's (give the work-order service's, so drafts use its
        departments and categories); None = the shipped one.  ``model_path``: a retrained model.
        ``retrained_path``: where the scheduled retraining promotes models (used, when there is
        no ``model_path``, from the moment a promoted model appears there)."""
        from twisted.internet.threads import deferToThreadPool

        from ticketing.intake.resources import default_extractor

        self._reactor = reactor
        self._pool = threadpool
        self._defer = deferToThreadPool
        def current():
            path = model_path or (retrained_path if retrained_path and Path(retrained_path).exists() else None)
            return default_extractor(path, taxonomy)  # cached per model file; reset when one is promoted

        self._factory = extractor_factory
        self._current = current
        self._corrections = corrections
        self._extractor = None
        self.taxonomy = taxonomy

    @classmethod
    def from_config(cls, reactor, threadpool, config, *, taxonomy=None, corrections=None, engine=None) -> "IntakeService":
        """Intake for a deployment: ``[intake] model_path`` and the ``sla.taxonomy_dir`` taxonomy
        (pass the work-order service's ``taxonomy`` to share the loaded object).  With the
        service's ``engine``, agents' corrections of drafts are stored as training data
        (checked against the same taxonomy)."""
        if taxonomy is None:
            from ticketing.taxonomy import from_config as taxonomy_from_config

            taxonomy = taxonomy_from_config(config)
        if corrections is None and engine is not None:
            from ticketing.intake.corrections import CorrectionStore

            corrections = CorrectionStore(engine, taxonomy=taxonomy)
        return cls(reactor, threadpool, corrections=corrections, taxonomy=taxonomy,
                   model_path=config.get("intake.model_path") or None,
                   retrained_path=config.get("intake.retrain_model_path") or None)

    def _in_pool(self, fn, *args, **kwargs):
        return self._defer(self._reactor, self._pool, fn, *args, **kwargs)

    def _loaded(self):
        if self._factory is None:
            return self._current()
        if self._extractor is None:
            self._extractor = self._factory()
        return self._extractor

    def start(self):
        """Load the data now (in the pool), so the first caller does not wait for it."""
        return self._in_pool(self._loaded).addCallback(lambda _: None)

    def propose(self, text: str, lang: str | None = None):
        """A Deferred firing with the :class:`~ticketing.intake.extractor.Proposal` (or an IntakeError)."""
        return self._in_pool(lambda: self._loaded().propose(text, lang))

    def similar(self, proposal_or_text, candidates, **kwargs):
        """A Deferred firing with :func:`~ticketing.intake.similar.similar_orders` at the reactor's now."""
        from ticketing.intake.similar import similar_orders

        now = now_from(self._reactor)
        candidates = list(candidates)
        return self._in_pool(lambda: similar_orders(proposal_or_text, candidates, now,
                                                    extractor=self._loaded(), **kwargs))

    def record_correction(self, text: str, field: str, value: str, *, source: str = "agent",
                          order_id: str | None = None):
        """A Deferred firing with the stored correction's id (validated first; nothing stored on error)."""
        if self._corrections is None:
            raise RuntimeError("IntakeService was created without a CorrectionStore")
        now = now_from(self._reactor)
        return self._in_pool(self._corrections.record, text, field, value, now=now, source=source,
                             order_id=order_id)
