"""Helpers shared by the opt-in suites that start a real host: ``real_webui`` (A1111 v1.10.1) and ``real_forge``.

They start the host's ``launch.py`` on a loopback port with its own data folder, write our models where a user's
host keeps them, follow a folder job and the host's progress bar, and check that an inpainted image kept every
pixel outside its jobs' masks. ``requests`` must be importable (the suites skip without it).
"""

from __future__ import annotations

import base64
import io
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
POLL_S = 120
"""How long one status poll may take: on a shared 2-core machine under heavy load (load average above 20, other
processes OOM-killed) a GET /alien/jobs/{id} answered after more than 30 s while Forge inpainted."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args: list, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; fail the test with its output unless it exits 0."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def write_hf_model(hub_cache: Path, spec_name: str, write: Callable[[Path], object]) -> Path:
    """Write one of our Hugging Face models (registry ``spec_name``) into the hub cache ``hub_cache`` (HF_HUB_CACHE,
    by default HF_HOME/hub) the way a download leaves it: snapshots/<pinned revision> and refs/main. ``write`` fills
    the snapshot folder."""
    from alien_filters.models.registry import get_spec

    spec = get_spec(spec_name)
    repo = hub_cache / ("models--" + spec.repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / spec.revision
    write(snapshot)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(spec.revision, encoding="utf-8")
    return snapshot


def host_env(data: Path) -> dict[str, str]:
    """The environment a host runs in: offline, its own Hugging Face cache, no analytics, no extra flags."""
    return {**os.environ, "HF_HOME": str(data / "hf"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "COMMANDLINE_ARGS": "", "GRADIO_ANALYTICS_ENABLED": "False"}


@contextmanager
def started_host(python: str, webui_dir: str, data: Path, flags: list[str], log_name: str = "webui.log",
                 timeout: float = 300) -> Iterator[str]:
    """Start ``launch.py`` with ``--data-dir data`` on a free loopback port; yield its URL once start-up has ended,
    stop it afterwards and print the tail of its log (``data/log_name``)."""
    port = free_port()
    log_path = data / log_name
    started = time.time()
    with log_path.open("w") as log:
        proc = subprocess.Popen([python, "launch.py", "--data-dir", str(data), *flags, "--port", str(port)],
                                cwd=webui_dir, env=host_env(data), stdout=log, stderr=subprocess.STDOUT)
        try:
            # no request before start-up ends: one that reaches the app before the WebUI adds its API middleware
            # makes starlette refuse the middleware ("Cannot add middleware after an application has started")
            while "Startup time:" not in log_path.read_text(errors="replace"):
                assert proc.poll() is None, log_path.read_text(errors="replace")[-5000:]
                assert time.time() < started + timeout, log_path.read_text(errors="replace")[-5000:]
                time.sleep(1)
            print(f"{log_name}: started in {time.time() - started:.1f} s")
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)
            print(f"{log_name} tail:\n" + log_path.read_text(errors="replace")[-3000:], file=sys.stderr)


class ProgressWatcher:
    """Polls the host's /sdapi/v1/progress in a thread while the ``with`` block runs; ``seen`` holds the answers."""

    def __init__(self, url: str, auth: tuple[str, str] | None = None, every: float = 0.3) -> None:
        self.url, self.auth, self.every = url, auth, every
        self.seen: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.seen.append(requests.get(self.url + "/sdapi/v1/progress", auth=self.auth, timeout=POLL_S).json())
            time.sleep(self.every)

    def __enter__(self) -> ProgressWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def texts(self) -> list[str]:
        return sorted({p["textinfo"] for p in self.seen if p.get("textinfo")})

    def assert_reported(self) -> None:
        """The host's progress bar showed our job: a textinfo of ours and some progress."""
        assert any(t.startswith("Alien Filters") for t in self.texts()), self.texts()
        assert any(p["progress"] > 0 for p in self.seen)


def wait_for_job(url: str, job_id: str, auth: tuple[str, str] | None = None, timeout: float = 600,
                 until: Callable[[dict], bool] | None = None) -> dict:
    """GET /alien/jobs/{id} until ``until(job)`` (default: no longer queued or running); the last answer."""
    until = until or (lambda job: job["state"] not in ("queued", "running"))
    deadline = time.time() + timeout
    while True:
        job = requests.get(f"{url}/alien/jobs/{job_id}", auth=auth, timeout=POLL_S).json()
        if until(job):
            return job
        assert time.time() < deadline, job
        time.sleep(0.5)


def b64_png(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def b64_image(data: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data)))


def assert_kept_outside_masks(before: Image.Image, after: Image.Image, manifest: dict) -> int:
    """Every pixel outside the union of the plan's job masks is unchanged; the number of masked pixels."""
    from alien_filters.core.masks import rle_decode

    a, b = np.asarray(before.convert("RGB")), np.asarray(after.convert("RGB"))
    assert a.shape == b.shape, (a.shape, b.shape)
    masked = np.zeros(a.shape[:2], dtype=bool)
    for job in manifest["plan"]["jobs"]:
        masked |= rle_decode(job["mask"]).astype(bool)
    outside = ~masked
    changed = int((a[outside] != b[outside]).any(axis=-1).sum())
    assert changed == 0, f"{changed} pixels outside the masks changed"
    return int(masked.sum())
