"""The README's HTTP API examples, taken from README.md itself and run against the /alien routes over the stand-in
WebUI on a real loopback server: the curl command lines through the real ``curl`` (or, where it is not installed,
as the same request), the Python block as written. Only the address is changed, and ``JOB_ID`` is the id the
previous answer gave."""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests
import uvicorn
from modules import shared
from PIL import Image

from alien_filters.webui.service import AlienService
from tests.support.readme import ShellLine, code_blocks, readme_text, section, shell_lines
from tests.support.rooms import room_image, write_rooms
from tests.webui.api_fixtures import make_app

README_ADDRESS = "http://127.0.0.1:7860"
README_CREDENTIALS = "user:pass"
API_SECTION = section(readme_text(), "HTTP API")


@dataclass
class Server:
    address: str
    webui: Path
    """Stands for the WebUI's folder: the roots are its ``outputs`` and ``alien-filters/inputs``."""
    service: AlienService


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """The app on a free loopback port, with roots laid out like the WebUI's defaults (``outputs``, then
    ``alien-filters/inputs``) and the README's credentials."""
    app, service = make_app(tmp_path)
    outputs, inputs = tmp_path / "outputs", tmp_path / "alien-filters" / "inputs"
    shared.opts.set("alien_filters_allowed_roots", f"{outputs}\n{inputs}")
    shared.opts.set("alien_filters_output_dir", str(outputs / "alien-filters"))
    shared.cmd_opts.api_auth = README_CREDENTIALS
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not uv.started and time.time() < deadline:
        time.sleep(0.02)
    assert uv.started, "the test server did not start"
    try:
        yield Server(f"http://127.0.0.1:{sock.getsockname()[1]}", tmp_path, service)
    finally:
        for job in service.registry.list():
            service.registry.wait(job.id, timeout=60)
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()


def run_curl(line: ShellLine) -> tuple[int, str]:
    """Status and body of a curl command line: the real curl when installed, else the same request."""
    if shutil.which("curl"):
        done = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *line.words[1:]], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        body, _, status = done.stdout.rpartition("\n")
        return int(status), body
    parser = argparse.ArgumentParser(prog="curl", exit_on_error=False)
    parser.add_argument("-u", "--user")
    parser.add_argument("-H", "--header", action="append", default=[])
    parser.add_argument("-d", "--data")
    parser.add_argument("-X", "--request")
    parser.add_argument("url")
    args = parser.parse_args(line.words[1:])
    request = urllib.request.Request(args.url, data=args.data.encode() if args.data is not None else None,
                                     method=args.request)
    for header in args.header:
        request.add_header(*(part.strip() for part in header.split(":", 1)))
    if args.user:
        request.add_header("Authorization", "Basic " + base64.b64encode(args.user.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def documented_answer(comment: str) -> dict | None:
    """The JSON object a ``# -> {...}`` comment shows as the answer, if the line has one."""
    return json.loads(comment.removeprefix("->").strip()) if comment.startswith("->") else None


def test_the_readme_has_curl_and_python_examples_at_the_default_address():
    curl = [line for block in code_blocks(API_SECTION, "bash", "sh") for line in shell_lines(block)]
    assert curl and all(line.words[0] == "curl" for line in curl)
    python = code_blocks(API_SECTION, "python")
    assert python
    for text in [*(" ".join(line.words) for line in curl), *python]:
        assert README_ADDRESS in text


def test_the_readme_curl_examples_work(server):
    write_rooms(server.webui / "alien-filters" / "inputs" / "rooms", 1, nested=False)
    answers: dict = {}
    for block in code_blocks(API_SECTION, "bash", "sh"):
        for line in shell_lines(block):
            words = [word.replace(README_ADDRESS, server.address).replace("JOB_ID", answers.get("job_id", "JOB_ID"))
                     for word in line.words]
            status, body = run_curl(ShellLine(words, line.comment))
            assert 200 <= status < 300, f"{' '.join(line.words)} -> {status} {body}"
            answer = json.loads(body)
            shape = documented_answer(line.comment)
            if shape is not None:
                assert set(shape) <= set(answer), f"{' '.join(line.words)}: README shows {shape}, got {answer}"
            answers.update(answer)
    assert answers.get("job_id"), "the README's curl examples start no folder job"
    assert answers["id"] == answers["job_id"] and answers["state"]  # the poll answered for that job
    job = server.service.registry.wait(answers["job_id"], timeout=120)
    assert job.state == "done" and [r.status for r in job.results] == ["done"], job
    assert Path(job.out_dir) == server.webui / "outputs" / "alien-filters" / "rooms"


def test_the_readme_python_example_works(server, tmp_path, monkeypatch, capsys):
    work = tmp_path / "client"
    work.mkdir()
    image, _ = room_image(2, size=(160, 224))
    image.save(work / "room.jpg", quality=85)
    monkeypatch.chdir(work)
    answers: list[requests.Response] = []
    post = requests.post

    def recorded_post(*args, **kwargs) -> requests.Response:
        answers.append(post(*args, **kwargs))
        return answers[-1]

    monkeypatch.setattr(requests, "post", recorded_post)
    for block in code_blocks(API_SECTION, "python"):
        exec(compile(block.replace(README_ADDRESS, server.address), "README.md (python example)", "exec"), {})
    assert answers and all(200 <= a.status_code < 300 for a in answers), [(a.status_code, a.text) for a in answers]
    result = Image.open(work / "room-alien.png")
    assert result.format == "PNG" and result.width % 8 == 0 and np.asarray(result).std() > 0
    first = answers[0].json()["images"][0]
    assert capsys.readouterr().out.strip() == first["manifest"]["plan"]["jobs"][0]["prompt"]
