"""Intake fixtures: the shipped data loaded once per test session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def extractor():
    """The extractor over the shipped gazetteer, model and taxonomy (what `propose` uses)."""
    from ticketing.intake.resources import default_extractor

    return default_extractor()


@pytest.fixture(scope="session")
def labeled():
    """(train, held_back) of the shipped labeled set."""
    from ticketing.intake.dataset import split
    from ticketing.intake.resources import load_examples

    return split(load_examples())
