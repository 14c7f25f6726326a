"""Intake: speech or typed text → a proposed work order (工单草稿).

``propose(text, lang=None) -> Proposal`` gives type, category, department,
district, address, urgency and a summary, each with a confidence;
``similar_orders`` ranks open orders that may be the same event (合并);
``record_correction`` turns an agent's fix into training data;
``IntakeService`` does all of it from the reactor through a thread pool.
"""
from __future__ import annotations

from ticketing.intake.errors import DataError, IntakeError, InvalidCorrection, InvalidText
from ticketing.intake.extractor import Extractor, Proposal
from ticketing.intake.gazetteer import Address


def propose(text: str, lang: str | None = None) -> Proposal:
    """Propose work-order fields for ``text`` with the shipped data and model."""
    from ticketing.intake.resources import default_extractor

    return default_extractor().propose(text, lang)


def similar_orders(proposal_or_text, candidates, now, **kwargs):
    """Open orders that may be the same event, best first (see :mod:`ticketing.intake.similar`)."""
    from ticketing.intake.similar import similar_orders as _similar

    return _similar(proposal_or_text, candidates, now, **kwargs)


def record_correction(text: str, field: str, value: str, **kwargs) -> int:
    """Store a correction as training data (see :mod:`ticketing.intake.corrections`)."""
    from ticketing.intake.corrections import record_correction as _record

    return _record(text, field, value, **kwargs)


__all__ = ["Address", "DataError", "Extractor", "IntakeError", "InvalidCorrection", "InvalidText",
           "Proposal", "propose", "record_correction", "similar_orders"]
