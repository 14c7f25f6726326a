"""The page text catalogue (callcenter/web/i18n.py): every key in Chinese and English."""
from __future__ import annotations

import importlib

from callcenter.bootstrap import FEATURES


def test_every_catalogue_key_has_chinese_and_english():
    """With every web feature loaded (each adds its own texts), no key lacks a language — the promise
    in callcenter/web/i18n.py's docstring; a missing one would show a resident a raw key or English only."""
    from callcenter.web.i18n import CATALOGUE, missing_translations

    for name in FEATURES:
        importlib.import_module(name)
    assert len(CATALOGUE) > 100
    assert missing_translations() == []


def test_a_key_without_english_is_reported():
    """The check itself can fail: a key with Chinese only is listed."""
    from callcenter.web.i18n import CATALOGUE, missing_translations

    CATALOGUE["test.zh_only"] = {"zh": "只有中文"}
    try:
        assert missing_translations() == ["test.zh_only"]
    finally:
        del CATALOGUE["test.zh_only"]
