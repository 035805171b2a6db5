"""The command line: themes, check-theme, and process's errors (full runs live in test_cli_process.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "alien_filters", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(cwd)})


def test_themes_json_lists_alien_and_two_more():
    result = cli("themes", "--json")
    assert result.returncode == 0, result.stderr
    themes = {t["name"]: t for t in json.loads(result.stdout)}
    assert {"alien", "cyberpunk", "winter_holiday"} <= set(themes)
    alien_classes = {c for rule in themes["alien"]["rules"] for c in rule["classes"]}
    assert len(alien_classes) >= 18
    assert {"table", "clock", "shelf", "painting", "window", "bed", "wall"} <= alien_classes
    table = next(r for r in themes["alien"]["rules"] if "table" in r["classes"])
    assert "apple" in table["prompt"] and "notebook" in table["prompt"]


def test_themes_lists_user_themes_and_warns_about_broken_ones(tmp_path):
    (tmp_path / "mine.yaml").write_text("name: mine\nrules:\n  - classes: [bed]\n    prompt: hay bed\n")
    (tmp_path / "bad.yaml").write_text("name: bad\nrules: 3\n")
    result = cli("themes", "--themes-dir", str(tmp_path))
    assert result.returncode == 0
    assert any(line.startswith("mine ") for line in result.stdout.splitlines())
    assert "bad.yaml:2: rules" in result.stderr


def test_check_theme_valid_and_broken(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("name: good\nrules:\n  - classes: [bed, flux capacitor]\n    prompt: hay bed\n")
    ok = cli("check-theme", str(good))
    assert ok.returncode == 0 and "is valid" in ok.stdout
    assert "flux capacitor" in ok.stderr  # unknown class warning
    assert "CLIP tokens" not in ok.stderr
    long = tmp_path / "long.yaml"
    long.write_text("name: long\nrules:\n  - classes: [bed]\n    prompt: " + "hay " * 80 + "\n")
    warned = cli("check-theme", str(long))
    assert warned.returncode == 0 and "is valid" in warned.stdout
    assert "rule 'bed': prompt with the theme's is 80 CLIP tokens" in warned.stderr
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: broken\nrules:\n  - classes: [bed]\n    prompt: hay\n    priority: high\n")
    result = cli("check-theme", str(bad))
    assert result.returncode == 2
    assert f"{bad}:5: rules[0].priority:" in result.stderr
    assert "Traceback" not in result.stderr


def test_process_without_checkpoint_names_the_missing_stage(tmp_path):
    result = cli("process", str(tmp_path), "--out", str(tmp_path / "out"), "--no-restore", "--models-dir",
                 str(tmp_path / "models"), "--offline", "--segmenter", "boxes")
    assert result.returncode == 2
    assert "--checkpoint PATH" in result.stderr and "Traceback" not in result.stderr


def test_process_unknown_theme(tmp_path):
    result = cli("process", str(tmp_path), "--out", str(tmp_path / "out"), "--theme", "nope")
    assert result.returncode == 2
    assert "nope" in result.stderr and "alien" in result.stderr


def test_process_offline_with_missing_models_says_where_to_put_them(tmp_path):
    result = cli("process", str(tmp_path), "--out", str(tmp_path / "out"), "--no-restore", "--dry-run",
                 "--models-dir", str(tmp_path / "models"), "--offline")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(tmp_path / "models" / "transformers") in result.stderr
