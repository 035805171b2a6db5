"""modules/errors.py: ``report(message, *, exc_info=False)`` prints to the console (stderr) as the WebUI does."""

import sys
import traceback

reported: list[str] = []
"""Every message reported (tests read it; the real module keeps only recent exceptions)."""


def report(message: str, *, exc_info: bool = False) -> None:
    reported.append(message)
    for line in message.splitlines():
        print("***", line, file=sys.stderr)
    if exc_info:
        print(traceback.format_exc().rstrip(), file=sys.stderr)
        print("---", file=sys.stderr)
