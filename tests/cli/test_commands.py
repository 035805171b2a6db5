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


SAM_VIT_B_SHA256 = "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912"


def test_models_json_lists_each_files_expected_sha256(tmp_path):
    models = tmp_path / "models"
    (models / "sam").mkdir(parents=True)
    (models / "sam" / "sam_vit_b_01ec64.pth").write_bytes(b"placed by hand")
    result = cli("models", "--json", "--models-dir", str(models))
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    sam = rows["sam_vit_b"]
    assert sam["present"] and sam["verified"] is True
    assert sam["files"] == [{"name": "sam_vit_b_01ec64.pth", "sha256": SAM_VIT_B_SHA256, "size": 375_042_383,
                             "url": "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth"}]
    clip = {f["name"]: f for f in rows["clip_vit_b32"]["files"]}
    assert clip["tokenizer.json"]["sha256"] == "b556ac8c99757ffb677208af34bc8c6721572114111a6e0aaf5fa69ff0b8d842"
    assert clip["tokenizer.json"]["url"].endswith("/tokenizer.json")
    owlv2 = {f["name"]: f["sha256"] for f in rows["owlv2_base"]["files"]}
    assert rows["owlv2_base"]["verified"] is False and owlv2["config.json"] is None  # not published: null
    assert owlv2["model.safetensors"] == "e1e130b9e404cf91a75ad45644c1da9d7fa5284085eecc864266a6923efb99e7"
    tokenizer = next(g for g in rows["clip_vit_b32"]["requires"] if g["what"] == "tokenizer")
    assert tokenizer["options"] == [["tokenizer.json"], ["vocab.json", "merges.txt"]]


def test_models_text_shows_what_to_place_for_missing_models(tmp_path):
    models = tmp_path / "models"
    (models / "sam").mkdir(parents=True)
    (models / "sam" / "sam_vit_b_01ec64.pth").write_bytes(b"placed by hand")
    result = cli("models", "--models-dir", str(models))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    sam_b = lines.index(next(line for line in lines if line.startswith("sam_vit_b ")))
    assert "present" in lines[sam_b] and lines[sam_b + 1].startswith("sam_vit_l ")  # present: one line
    assert any(line.split() == ["sam_vit_l_0b3195.pth", "sha256",
                                "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622"] for line in lines)
    assert "  alternatives: weights (model.safetensors or pytorch_model.bin); " \
           "tokenizer (tokenizer.json or vocab.json + merges.txt)" in lines
    assert any(line.split() == ["config.json", "sha256", "not", "published"] for line in lines)  # OWLv2's
