"""The WebUI stand-in: ``tests/webui/stub`` provides ``modules`` (and ``launch``) with the real names.

Each test starts from a clean WebUI state: fresh shared.state and options, a stand-in checkpoint loaded,
no upscalers, no recorded processing calls.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

STUB = Path(__file__).parent / "stub"
os.environ.setdefault("ALIEN_WEBUI_STUB_DATA", tempfile.mkdtemp(prefix="alien-webui-data-"))
if str(STUB) not in sys.path:
    sys.path.insert(0, str(STUB))

from modules import errors, options, processing, progress, safe, script_callbacks, shared  # noqa: E402


class StandInModel:
    """What ``shared.sd_model`` holds once a checkpoint is loaded: what processing reads of it (the infotext's
    ``Model`` is ``sd_checkpoint_info.name_for_extra``, its ``Model hash`` ``sd_model_hash``)."""

    cond_stage_key = "crossattn"
    is_inpaint = True
    sd_checkpoint_info = SimpleNamespace(name_for_extra="sd-v1-5-inpainting")
    sd_model_hash = "c6bbc15e32"


@pytest.fixture(autouse=True)
def webui_state():
    """A clean WebUI: new state, default options, a loaded model, no upscalers, no callbacks, and ``torch.load``
    behind the WebUI's safe-unpickle check (on by default in A1111)."""
    shared.state.__dict__.clear()  # modules hold references to these objects (as in the WebUI): reset in place
    shared.state.__init__()
    fresh = options.Options(dict(shared.options_templates), set())
    shared.opts.data_labels, shared.opts.data = fresh.data_labels, fresh.data
    shared.sd_model = StandInModel()
    shared.sd_upscalers = []
    shared.cmd_opts.api_auth = None
    processing.calls.clear()
    progress.current_task = None
    progress.pending_tasks.clear()
    progress.finished_tasks.clear()
    script_callbacks.clear_callbacks()
    shared.total_tqdm.clear()
    shared.cmd_opts.disable_safe_unpickle = False
    errors.reported.clear()
    safe.install()
    try:
        yield shared.state
    finally:
        safe.uninstall()


@pytest.fixture
def data_path() -> Path:
    return Path(shared.data_path)
