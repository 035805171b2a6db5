"""Resumable, checksum-verified downloads with urllib (no extra dependency).

The bytes go to ``<dest>.part``; an interrupted transfer (dropped connection, killed process) is
resumed from that file with an HTTP Range request. A finished file is checked against its sha256
and only then renamed into place, so ``dest`` either does not exist or is complete.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from ..core.errors import AlienFiltersError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
USER_AGENT = "alien-filters-model-manager"
HF_HUB = "https://huggingface.co"

OnProgress = Callable[[int, int | None], None]
"""Called with (bytes on disk so far, total bytes or None) when a transfer starts and after every chunk."""


class DownloadError(AlienFiltersError, RuntimeError):
    """A download failed; the message names the file, its URL and where to put it by hand."""


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    url: str,
    dest: Path,
    sha256: str | None,
    size: int | None,
    progress: bool = True,
    *,
    timeout: float = 60.0,
    attempts: int = 3,
    on_progress: OnProgress | None = None,
) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), verify ``sha256``/``size``, return ``dest``.

    A dropped connection is resumed up to ``attempts`` times in this call; the partial file is kept
    for the next call otherwise. ``progress`` shows a tqdm bar on the console; ``on_progress`` reports
    the same to a caller (the WebUI's progress text). Raises DownloadError with one clear message on any failure.
    """
    url = mirrored(url)
    dest = Path(dest)
    part = dest.with_suffix(dest.suffix + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    by_hand = f"Download it by hand from {url} and put it at: {dest}"
    for attempt in range(1, attempts + 1):
        try:
            _fetch_into(url, part, size, progress, timeout, on_progress)
            break
        except _Interrupted as exc:
            if attempt == attempts:
                kept = part.stat().st_size if part.exists() else 0
                raise DownloadError(
                    f"Download of {dest.name} from {url} was interrupted ({exc}); {kept} bytes are kept in "
                    f"{part} and the next run resumes from there. {by_hand}"
                ) from None
            log.warning("download of %s interrupted (%s); resuming", dest.name, exc)
        except urllib.error.HTTPError as exc:
            raise DownloadError(
                f"Could not download {dest.name} from {url}: HTTP {exc.code} {exc.reason}. {by_hand}"
            ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(
                f"Could not download {dest.name} from {url} (offline or unreachable: {reason}). {by_hand}"
            ) from None
    _verify(part, dest, url, sha256, size)
    os.replace(part, dest)
    return dest


def mirrored(url: str) -> str:
    """``url`` on ``$HF_ENDPOINT`` (a Hugging Face mirror, the variable huggingface_hub reads) when it is set and
    ``url`` is on huggingface.co; else ``url`` as it is."""
    endpoint = os.environ.get("HF_ENDPOINT", "").rstrip("/")
    if endpoint and url.startswith(HF_HUB + "/"):
        return endpoint + url[len(HF_HUB):]
    return url


class _Interrupted(Exception):
    """The server closed the connection before the whole file arrived."""


def _fetch_into(url: str, part: Path, size: int | None, progress: bool, timeout: float,
                on_progress: OnProgress | None) -> None:
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    if size is not None and offset == size:
        return
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # our partial file does not fit the server's: start over
            part.unlink()
            raise _Interrupted("server refused to resume; starting over") from None
        raise
    with response:
        if offset and response.status != 206:  # the server ignored the Range header: start over
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else size
        received = 0
        if on_progress is not None:
            on_progress(offset, total)
        with open(part, "ab" if offset else "wb") as out, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
            desc=part.name.removesuffix(".part"), disable=not progress, leave=False,
        ) as bar:
            try:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                    if on_progress is not None:
                        on_progress(offset + received, total)
            except (http.client.IncompleteRead, ConnectionError, TimeoutError) as exc:
                raise _Interrupted(type(exc).__name__) from None
        if length is not None and received < int(length):
            raise _Interrupted(f"got {received} of {length} bytes")


def _verify(part: Path, dest: Path, url: str, sha256: str | None, size: int | None) -> None:
    actual_size = part.stat().st_size
    if size is not None and actual_size != size:
        part.unlink()
        raise DownloadError(
            f"Size mismatch for {dest.name} downloaded from {url}: expected {size} bytes, got {actual_size}. "
            f"The file was deleted; try again, or download it by hand and put it at: {dest}"
        )
    if sha256 is None:
        log.warning("%s: no published sha256, the download from %s was not verified", dest.name, url)
        return
    actual = sha256_of(part)
    if actual.lower() != sha256.lower():
        part.unlink()
        raise DownloadError(
            f"Checksum mismatch for {dest.name} downloaded from {url}: expected sha256 {sha256.lower()}, "
            f"got {actual}. The file was deleted; try again, or download it by hand and put it at: {dest}"
        )
