"""An exclusive lock on an output folder, so two batches never write (or sweep) the same tree at once."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from ..core.errors import AlienFiltersError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

LOCK_NAME = ".alien-filters.lock"


class OutputFolderError(AlienFiltersError, RuntimeError):
    """The output folder cannot be used (not writable, not a folder)."""


class OutputFolderBusy(OutputFolderError):
    """Another batch holds the output folder."""


class OutputFolderLock:
    """Context manager holding ``folder/.alien-filters.lock``; released when the process dies, too."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> OutputFolderLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise OutputFolderError(f"{self.path.parent}: cannot write to the output folder ({reason})") from None
        if not os.access(self.path.parent, os.W_OK | os.X_OK):
            os.close(fd)
            raise OutputFolderError(f"{self.path.parent}: cannot write to the output folder (permission denied)")
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            os.close(fd)
            raise OutputFolderBusy(f"{self.path.parent}: another batch is writing to this folder") from exc
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
