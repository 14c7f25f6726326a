"""What a person sees on a page, and the raw codes or machine times in it (shared by the HTTP page
tests and the browser tests by role)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:?\d{2}|Z)?|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
#: every kind of code a page could leak (callcenter.web.names)
KINDS = ("department", "category", "district", "status", "co_state", "action", "role", "state", "reason", "queue",
         "outcome", "ivr")


class _Text(HTMLParser):
    SKIP = {"script", "style", "template", "title"}

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    """The text nodes of a page outside scripts and styles, one per line."""
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


def code_words(names) -> dict[str, str]:
    """Every named code → its kind (``names``: a :class:`callcenter.web.names.Names`)."""
    out = {}
    for kind in KINDS:
        for code in names.all_codes(kind):
            if names.name(kind, code, "zh") != code:
                out.setdefault(code, kind)
    return out


def raw_findings(text: str, lang: str, codes: dict[str, str], allowed=()) -> list[str]:
    """ISO timestamps and raw codes in ``text``.  In English pages only codes that cannot be ordinary
    words (with ``-`` or ``_``) count; in Chinese pages any code does."""
    found = [f"iso time {m.group(0)!r}" for m in ISO_TIME.finditer(text)]
    for code, kind in codes.items():
        if code in allowed or (lang == "en" and not re.search(r"[-_]", code)):
            continue
        for m in re.finditer(rf"(?<![\w\-/.@]){re.escape(code)}(?![\w\-/.@])", text):
            line = text[text.rfind("\n", 0, m.start()) + 1:text.find("\n", m.end()) % (len(text) + 1)]
            found.append(f"raw {kind} code {code!r} in {line[:80]!r}")
    return found
