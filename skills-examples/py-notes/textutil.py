"""Helpers of py-notes: a module next to app.py, imported like any other."""

import re

_SPACE = re.compile(r"\s+")


def clean(text: str) -> str:
    """Collapses runs of whitespace and trims the ends."""
    return _SPACE.sub(" ", text).strip()
