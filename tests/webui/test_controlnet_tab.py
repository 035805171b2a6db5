"""Structure guidance through the tab's Run: the manifests record each job's unit, and the Status (the batch summary)
says once per batch when jobs ran without it (no ControlNet in the WebUI); with the ControlNet every unit runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alien_filters.webui import controlnet
from alien_filters.webui.service import AlienService
from alien_filters.webui.ui import STAGES, TabActions
from tests.support.control_themes import alien_with_canny
from tests.support.rooms import write_rooms
from tests.webui.api_fixtures import double_stages, make_app
from tests.webui.controlnet_stand_in import install_controlnet, uninstall_controlnet


@pytest.fixture
def run_batch(tmp_path: Path):
    (tmp_path / "allowed").mkdir()
    make_app(tmp_path)
    photos = tmp_path / "allowed" / "photos"
    write_rooms(photos, 2, nested=False)
    actions = TabActions(AlienService(double_stages))

    def run() -> tuple[str, list[dict]]:
        _, _, status = actions.run("", "Server folder", None, str(photos), "", "alien", alien_with_canny(0.9), STAGES,
                                   "auto", "sam_vit_b", 7)
        out = tmp_path / "allowed" / "out"
        found = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
        return status, [m for m in found if "plan" in m]  # the manifests, not the batch report

    return run


def test_without_a_controlnet_the_status_says_so_once(run_batch):
    status, manifests = run_batch()
    records = [r for m in manifests for r in m["control"]["jobs"]]
    assert len(manifests) == 2 and records and all(r["kind"] == "canny" for r in records)
    assert all(r["applied"] is False and r["reason"] == controlnet.NOT_INSTALLED for r in records)
    assert status.startswith("done 2")
    assert status.count("ran without their ControlNet unit") == 1
    assert (f"warning: {len(records)} job(s) in 2 image(s) ran without their ControlNet unit (structure guidance): "
            f"{controlnet.NOT_INSTALLED}") in status


def test_with_the_controlnet_every_unit_runs(run_batch, tmp_path):
    cn = install_controlnet("a1111", tmp_path / "models" / "ControlNet", ("control_v11p_sd15_canny",))
    try:
        status, manifests = run_batch()
    finally:
        uninstall_controlnet("a1111")
    records = [r for m in manifests for r in m["control"]["jobs"]]
    assert records and all(r["applied"] is True for r in records)
    assert len(cn.runs) == len(records) and "ran without their ControlNet unit" not in status
    assert cn.other.touched == []
