"""What the WebUI's console shows of our work: one line per failed image, the traceback of unexpected errors."""

from __future__ import annotations

import sys
from typing import Iterable

from modules import errors

PREFIX = "Alien Filters"


def image_failed(name: str, message: str) -> None:
    """One console line for an image that failed, with its reason."""
    print(f"*** {PREFIX}: {name}: {message}", file=sys.stderr)


def failed(what: str, message: str) -> None:
    """One console line for work that could not run at all (e.g. a model missing), with the reason."""
    print(f"*** {PREFIX}: {what} failed: {message}", file=sys.stderr)


def failures(outcomes: Iterable[tuple[str, str, str]]) -> None:
    """One line per failed ``(name, status, message)``; other statuses print nothing."""
    for name, status, message in outcomes:
        if status == "failed":
            image_failed(name, message)


def unexpected(what: str) -> None:
    """An unexpected error, with the traceback of the exception being handled (the WebUI's ``errors.report``)."""
    errors.report(f"{PREFIX}: {what}", exc_info=True)
