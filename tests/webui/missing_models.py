"""A first run without models: empty models folders (ours, the WebUI's, the Hugging Face cache) and no network
(host names do not resolve; only this machine answers), for the stages built by the real WebUI factory, manager and
registry."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from modules import paths_internal, shared

from alien_filters.models.download import mirrored
from alien_filters.models.registry import REGISTRY

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def closed_port() -> int:
    """A port that was free a moment ago: nothing listens there (a connection is refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def without_models(root: Path, monkeypatch: pytest.MonkeyPatch, hf_endpoint: str | None = None) -> Path:
    """Empty model folders under ``root``, no host name resolves but this machine's, and Hugging Face (when
    ``hf_endpoint`` is given) served from there; our settings (registered already, see ``make_app``) point at the
    folders. Returns our models folder."""
    webui_models = root / "webui-models"
    webui_models.mkdir()
    monkeypatch.setattr(paths_internal, "models_path", str(webui_models))
    monkeypatch.setenv("HF_HOME", str(root / "hf-home"))
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    if hf_endpoint:
        monkeypatch.setenv("HF_ENDPOINT", hf_endpoint)
    resolve = socket.getaddrinfo

    def offline(host, *args, **kwargs):
        if host not in LOCAL_HOSTS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    ours = webui_models / "alien-filters"
    shared.opts.set("alien_filters_models_dir", str(ours))
    shared.opts.set("alien_filters_device", "cpu")
    return ours


def named_model_file(text: str, models_dir: Path) -> str:
    """The name of the model file that ``text`` names with its URL (as downloaded) and the path under
    ``models_dir`` to put it at."""
    for spec in REGISTRY.values():
        if spec.kind == "file":
            assert spec.url is not None
            wanted = [(spec.filename, spec.url, models_dir / spec.relpath)]
        else:
            wanted = [(f.filename, f.url, models_dir / spec.relpath / f.filename) for f in spec.files]
        for filename, url, dest in wanted:
            if f"{filename} " in text and mirrored(url) in text and f"put it at: {dest}" in text:
                return filename
    raise AssertionError(f"no model file named with its URL and where to put it in: {text!r}")
