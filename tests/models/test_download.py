"""download(): streaming, resume with Range, sha256 check, clear errors - against a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import logging
import os
import socket
import threading
from pathlib import Path

import pytest

from alien_filters.models import download as download_module
from alien_filters.models.download import DownloadError, download, mirrored, sha256_of

PAYLOAD = os.urandom(300_000)
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _State:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cuts: dict[str, list[int]] = {}  # path -> bytes to send before dropping, one entry per request
        self.ignore_range: set[str] = set()
        self.requests: list[tuple[str, str | None, int]] = []  # (path, Range header, bytes sent)

    def reset(self) -> None:
        self.files.clear()
        self.cuts.clear()
        self.ignore_range.clear()
        self.requests.clear()


class _Handler(http.server.BaseHTTPRequestHandler):
    state: _State

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        data = self.state.files.get(self.path)
        range_header = self.headers.get("Range")
        if data is None:
            self.state.requests.append((self.path, range_header, 0))
            self.send_error(404, "Not Found")
            return
        start = 0
        if range_header and self.path not in self.state.ignore_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.state.requests.append((self.path, range_header, 0))
                self.send_error(416, "Range Not Satisfiable")
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cuts = self.state.cuts.get(self.path)
        if cuts:
            body = body[: cuts.pop(0)]
            self.close_connection = True
        # recorded before sending: the client may finish and the test assert before this thread resumes
        self.state.requests.append((self.path, range_header, len(body)))
        self.wfile.write(body)
        self.wfile.flush()


@pytest.fixture(scope="module")
def server():
    state = _State()
    handler = type("Handler", (_Handler,), {"state": state})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def srv(server):
    state, base = server
    state.reset()
    state.files["/model.pth"] = PAYLOAD
    return state, base


def test_downloads_verifies_and_renames_into_place(srv, tmp_path: Path) -> None:
    state, base = srv
    dest = tmp_path / "sub" / "model.pth"
    assert download(f"{base}/model.pth", dest, PAYLOAD_SHA, len(PAYLOAD), progress=False) == dest
    assert dest.read_bytes() == PAYLOAD
    assert not dest.with_suffix(".pth.part").exists()
    assert state.requests == [("/model.pth", None, len(PAYLOAD))]


def test_cut_transfer_is_resumed_with_a_range_request(srv, tmp_path: Path) -> None:
    state, base = srv
    state.cuts["/model.pth"] = [120_000]
    dest = tmp_path / "model.pth"
    download(f"{base}/model.pth", dest, PAYLOAD_SHA, len(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert state.requests == [
        ("/model.pth", None, 120_000),
        ("/model.pth", "bytes=120000-", len(PAYLOAD) - 120_000),
    ]


def test_partial_file_from_a_killed_run_is_resumed(srv, tmp_path: Path) -> None:
    state, base = srv
    dest = tmp_path / "model.pth"
    dest.with_suffix(".pth.part").write_bytes(PAYLOAD[:50_000])
    download(f"{base}/model.pth", dest, PAYLOAD_SHA, len(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert state.requests == [("/model.pth", "bytes=50000-", len(PAYLOAD) - 50_000)]


def test_progress_is_reported_from_the_resumed_offset_after_every_chunk(srv, tmp_path: Path, monkeypatch) -> None:
    _, base = srv
    monkeypatch.setattr(download_module, "CHUNK", 100_000)
    dest = tmp_path / "model.pth"
    dest.with_suffix(".pth.part").write_bytes(PAYLOAD[:50_000])
    seen: list[tuple[int, int | None]] = []
    download(f"{base}/model.pth", dest, PAYLOAD_SHA, len(PAYLOAD), progress=False,
             on_progress=lambda done, total: seen.append((done, total)))
    assert seen == [(n, len(PAYLOAD)) for n in (50_000, 150_000, 250_000, 300_000)]


def test_hugging_face_urls_go_to_hf_endpoint_when_it_is_set(srv, tmp_path: Path, monkeypatch) -> None:
    state, base = srv
    path = "/mirror/org/repo/resolve/abc/model.pth"
    state.files[path] = PAYLOAD
    monkeypatch.setenv("HF_ENDPOINT", f"{base}/mirror/")
    dest = tmp_path / "model.pth"
    download("https://huggingface.co/org/repo/resolve/abc/model.pth", dest, PAYLOAD_SHA, len(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD and state.requests == [(path, None, len(PAYLOAD))]
    assert mirrored("https://dl.fbaipublicfiles.com/segment_anything/sam.pth").startswith("https://dl.fbaipublicfiles")
    monkeypatch.delenv("HF_ENDPOINT")
    assert mirrored("https://huggingface.co/org/repo") == "https://huggingface.co/org/repo"


def test_server_ignoring_range_restarts_from_zero(srv, tmp_path: Path) -> None:
    state, base = srv
    state.ignore_range.add("/model.pth")
    dest = tmp_path / "model.pth"
    dest.with_suffix(".pth.part").write_bytes(b"stale bytes that must not stay")
    download(f"{base}/model.pth", dest, PAYLOAD_SHA, len(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_repeated_cuts_keep_the_partial_file_for_the_next_run(srv, tmp_path: Path) -> None:
    state, base = srv
    state.cuts["/model.pth"] = [10_000, 10_000]
    dest = tmp_path / "model.pth"
    with pytest.raises(DownloadError) as info:
        download(f"{base}/model.pth", dest, PAYLOAD_SHA, len(PAYLOAD), progress=False, attempts=2)
    message = str(info.value)
    assert "interrupted" in message and "model.pth" in message and str(dest) in message
    part = dest.with_suffix(".pth.part")
    assert part.read_bytes() == PAYLOAD[:20_000]
    assert not dest.exists()
    download(f"{base}/model.pth", dest, PAYLOAD_SHA, len(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert state.requests[-1] == ("/model.pth", "bytes=20000-", len(PAYLOAD) - 20_000)


def test_checksum_mismatch_names_file_and_hashes_and_deletes_it(srv, tmp_path: Path) -> None:
    _, base = srv
    dest = tmp_path / "model.pth"
    wrong = "0" * 64
    with pytest.raises(DownloadError) as info:
        download(f"{base}/model.pth", dest, wrong, len(PAYLOAD), progress=False)
    message = str(info.value)
    assert "model.pth" in message and wrong in message and PAYLOAD_SHA in message
    assert not dest.exists() and not dest.with_suffix(".pth.part").exists()


def test_size_mismatch_is_an_error(srv, tmp_path: Path) -> None:
    _, base = srv
    dest = tmp_path / "model.pth"
    with pytest.raises(DownloadError, match="expected 999 bytes"):
        download(f"{base}/model.pth", dest, None, 999, progress=False)
    assert not dest.exists()


def test_unknown_checksum_downloads_with_a_not_verified_warning(srv, tmp_path: Path, caplog) -> None:
    _, base = srv
    dest = tmp_path / "model.pth"
    with caplog.at_level(logging.WARNING):
        download(f"{base}/model.pth", dest, None, None, progress=False)
    assert sha256_of(dest) == PAYLOAD_SHA
    assert "not verified" in caplog.text


def test_http_error_names_file_url_and_manual_path(srv, tmp_path: Path) -> None:
    _, base = srv
    dest = tmp_path / "missing.pth"
    with pytest.raises(DownloadError) as info:
        download(f"{base}/missing.pth", dest, None, None, progress=False)
    message = str(info.value)
    assert "HTTP 404" in message and f"{base}/missing.pth" in message and str(dest) in message


def test_offline_gives_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/sam_vit_b_01ec64.pth"
    dest = tmp_path / "sam" / "sam_vit_b_01ec64.pth"
    with pytest.raises(DownloadError) as info:
        download(url, dest, None, None, progress=False, timeout=5)
    message = str(info.value)
    assert "sam_vit_b_01ec64.pth" in message and url in message and f"put it at: {dest}" in message
    assert info.value.__suppress_context__ and info.value.__cause__ is None
    assert not dest.exists()


def test_partial_file_the_server_cannot_resume_is_restarted(srv, tmp_path: Path) -> None:
    state, base = srv
    dest = tmp_path / "model.pth"
    dest.with_suffix(".pth.part").write_bytes(b"x" * (len(PAYLOAD) + 10))  # larger than the file: 416
    download(f"{base}/model.pth", dest, PAYLOAD_SHA, None, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert [(r[1], r[2]) for r in state.requests] == [(f"bytes={len(PAYLOAD) + 10}-", 0), (None, len(PAYLOAD))]
