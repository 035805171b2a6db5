"""Every option README.md documents for ``python -m alien_filters process``, read from the README itself (the
process command line and the ``Options:`` paragraph of its "Command line" section), run with ``--dry-run`` over
generated rooms, with its effect checked where a dry run shows it; and every option the parser has is documented.

The real command line and the real stage factory run; only what would load a model is replaced: the model manager
(it records what it is asked for) and the stages' loaders, which give the colour-reading doubles of
tests/support/doubles.py. An option documented with alternatives (``--segmenter a|b``) is run with each; a device
or detector this machine lacks must be refused with a clear error (exit 2), never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import transformers

from alien_filters import cli
from alien_filters.cluster.cli_args import POOL_OPTIONS
from alien_filters.cluster.options import RayUnavailable, require_ray
from alien_filters.models.device import DeviceError, pick_device
from alien_filters.stages import factory, segment, tagging
from alien_filters.stages.restore import SwinIRRestorer
from tests.support.doubles import ColourSegmenter, ColourTagger, ResizeRestorer
from tests.support.readme import code_blocks, readme_text, section, shell_lines
from tests.support.rooms import write_rooms

COMMAND_LINE = section(readme_text(), "Command line")
SMALL = ["--short-side", "128", "--max-long-side", "256"]
"""A small working size keeps each run short; an option under test comes after and wins."""
SAMPLES = {"--theme": "cyberpunk", "--themes-dir": "{tmp}/themes", "--limit": "1", "--short-side": "96",
           "--max-long-side": "160"}
"""Values chosen so that the option's effect shows (the README's own example may be the default)."""
PLACEHOLDERS = {"N": "3", "DIR": "{tmp}/dir", "PATH": "{tmp}/file", "[ADDRESS]": None}
"""``[ADDRESS]``: optional, so the option runs bare (``--ray``: a local Ray instance)."""
THEME_PROMPT = "a bed of README moss"


def documented_options() -> dict[str, str | None]:
    """Option -> the value text the README shows with it (None for none): the ``Options:`` paragraph first, then
    the ``process`` command line of the section's code blocks."""
    paragraph = re.search(r"^Options: (.*?)(?:\n\n|\Z)", COMMAND_LINE, re.S | re.M)
    assert paragraph, "README.md: no 'Options:' paragraph in the 'Command line' section"
    found: dict[str, str | None] = {}
    for span in re.findall(r"`(--[^`]+)`", paragraph.group(1)):
        name, _, value = span.partition(" ")
        found[name] = found.get(name) or value or None
    for block in code_blocks(COMMAND_LINE, "bash", "sh"):
        for line in shell_lines(block):
            if "process" not in line.words:
                continue
            words = [word.strip("[]") for word in line.words[line.words.index("process") + 1:]]
            for word, after in zip(words, [*words[1:], None], strict=True):
                if word.startswith("--"):
                    found.setdefault(word, after if after is not None and not after.startswith("--") else None)
    return found


def parser_options() -> dict[str, argparse.Action]:
    """The ``process`` sub-command's options (``--help`` aside)."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # argparse has no API
    return {name: action for action in sub.choices["process"]._actions for name in action.option_strings
            if name not in ("-h", "--help")}


@dataclass(frozen=True)
class Case:
    option: str
    value: str | None
    """None for a flag; ``{tmp}`` stands for the case's own temporary folder."""

    def __str__(self) -> str:
        return self.option if self.value is None else f"{self.option}={self.value.replace('{tmp}/', '')}"


def cases() -> list[Case]:
    out = []
    for option, shown in documented_options().items():
        if shown and "|" in shown:
            out += [Case(option, value) for value in shown.split("|")]
        else:
            out.append(Case(option, SAMPLES.get(option) or PLACEHOLDERS.get(shown or "", shown)))
    return out


@dataclass
class Recorder:
    """What the factory asked for: the manager's arguments, the model names it ensured, the devices it built on."""

    models_dir: Path | None = None
    allow_download: bool | None = None
    ensured: list[str] = field(default_factory=list)
    devices: set[str] = field(default_factory=set)

    def ensure(self, name: str) -> Path:
        self.ensured.append(name)
        return Path("/nonexistent-models") / name

    def record_load(self, name: str) -> None:
        """The manager's load record (the doubles load nothing)."""


@dataclasses.dataclass
class CaptioningColourTagger(ColourTagger):
    """The colour double with a captioner, as the factory builds the tagger for ``--captions``."""

    name: str = "colour-tagger-double+caption"

    def captioner(self, image) -> str:
        return f"a room of {image.width} by {image.height} pixels"

    def tag(self, image):
        return dataclasses.replace(super().tag(image), caption=self.captioner(image))


def check_captions(run: Run, _: object = None) -> None:
    assert "blip_base" in run.recorder.ensured
    for manifest, sidecar in zip(run.manifests, run.files(".caption"), strict=True):
        assert manifest["options"]["caption"] and sidecar.read_text() == manifest["tags"]["caption"] + "\n"


@pytest.fixture
def recorder(monkeypatch) -> Recorder:
    """The model manager and stage loaders replaced by a recorder and the colour doubles."""
    rec = Recorder()

    def make_manager(models_dir, allow_download=True, search_dirs=None) -> Recorder:
        rec.models_dir, rec.allow_download = models_dir, allow_download
        return rec

    def restorer(cls, manager, device="auto", **_: Any) -> ResizeRestorer:
        manager.ensure("swinir_x4")
        rec.devices.add(str(device))
        return ResizeRestorer()

    def tagger(cls, detector_folder, queries, clip_folder=None, styles=(), thresholds=None, default_threshold=0.1,
               device="cpu", torch_dtype=None, caption_folder=None) -> ColourTagger:
        rec.devices.add(str(device))
        return CaptioningColourTagger() if caption_folder is not None else ColourTagger()

    def segmenter(checkpoint, model_type="vit_b", device="cpu", **_: Any) -> ColourSegmenter:
        rec.devices.add(str(device))
        return ColourSegmenter()

    monkeypatch.setattr(factory, "make_manager", make_manager)
    monkeypatch.setattr(SwinIRRestorer, "from_manager", classmethod(restorer))
    monkeypatch.setattr(tagging.ObjectStyleTagger, "from_folders", classmethod(tagger))
    monkeypatch.setattr(segment, "SamSegmenter", segmenter)
    return rec


@pytest.fixture
def keep_sigint():
    """The command line installs its Ctrl-C handler; pytest's own comes back afterwards."""
    previous = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="module")
def rooms(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("rooms")
    write_rooms(folder, 2)
    return folder


@dataclass
class Run:
    """A finished run: its output folder, its temporary folder and what the factory asked for."""

    out: Path
    tmp: Path
    recorder: Recorder

    @property
    def manifests(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted(self.out.rglob("*.json"))
                if p.name != "alien-filters-report.json" and ".alien-cache" not in p.parts]

    def files(self, suffix: str) -> list[Path]:
        return sorted(p for p in self.out.rglob(f"*{suffix}") if ".alien-cache" not in p.parts)

    def report(self) -> dict[str, Any]:
        return json.loads((self.out / "alien-filters-report.json").read_text())


def detector_name(value: str) -> str:
    """The registry model a ``--detector`` value stands for (auto: OWLv2 where transformers has it)."""
    if value == "auto":
        value = "owlv2" if hasattr(transformers, "Owlv2ForObjectDetection") else "owlvit"
    return {"owlvit": "owlvit_base", "owlv2": "owlv2_base"}[value]


def check_segmenter(run: Run, value: str) -> None:
    if value == "boxes":  # detection boxes become the masks: no SAM asked for, none recorded
        assert not any(name.startswith("sam_") for name in run.recorder.ensured)
        assert all(not m["options"]["segment"] and m["models"]["segment"] is None for m in run.manifests)
    else:
        assert value in run.recorder.ensured
        assert all(m["models"]["segment"] == ColourSegmenter.name for m in run.manifests)


def check_restore_off(run: Run, _: object = None) -> None:
    assert "swinir_x4" not in run.recorder.ensured
    assert all(not m["options"]["restore"] and m["models"]["restore"] is None for m in run.manifests)


EFFECTS: dict[str, Callable[[Run, str | None], None]] = {
    "--out": lambda run, value: bool(run.manifests) and run.out == Path(value) and not (run.tmp / "out").exists(),
    "--theme": lambda run, value: all(m["theme"]["name"] == value for m in run.manifests),
    "--themes-dir": lambda run, value: all(
        m["theme"]["source"] == str(Path(value) / "alien.yaml")
        and THEME_PROMPT in [j["prompt"].split(",")[0] for j in m["plan"]["jobs"]] for m in run.manifests),
    "--dry-run": lambda run, _: all(m["status"] == "planned" for m in run.manifests) and not run.files(".png"),
    "--seed": lambda run, value: all(m["seed"] == int(value) for m in run.manifests),
    "--limit": lambda run, value: len(run.manifests) == int(value),
    "--short-side": lambda run, value: all(min(m["working_size"]) == int(value) for m in run.manifests),
    "--max-long-side": lambda run, value: all(max(m["working_size"]) <= int(value) for m in run.manifests),
    "--no-restore": check_restore_off,
    "--restorer": lambda run, value: check_restore_off(run) if value == "none" else (
        "swinir_x4" in run.recorder.ensured and all(m["models"]["restore"] == ResizeRestorer.name
                                                    for m in run.manifests)),
    "--no-segment": lambda run, _: check_segmenter(run, "boxes"),
    "--segmenter": check_segmenter,
    "--no-preview": lambda run, _: not run.files(".preview.jpg"),
    "--save-masks": lambda run, _: len(run.files(".masks.png")) == len(run.manifests),
    "--no-cache": lambda run, _: not (run.out / ".alien-cache").exists(),
    "--models-dir": lambda run, value: run.recorder.models_dir == Path(value),
    "--offline": lambda run, _: run.recorder.allow_download is False,
    "--device": lambda run, value: run.recorder.devices == {str(pick_device(value))},
    "--detector": lambda run, value: detector_name(value) in run.recorder.ensured,
    "--captions": check_captions,
    "--regional": lambda run, _: all(m["options"]["regional"] is True for m in run.manifests),
    "--no-regional": lambda run, _: all(m["options"]["regional"] is False for m in run.manifests),
    "--inpaint-batch-size": lambda run, value: all(m["options"]["inpaint_batch_size"] == int(value)
                                                   for m in run.manifests),
    "--inpaint-images": lambda run, value: run.report()["images_together"] == int(value),
}
"""What each option must have done, where a dry run with the doubles shows it (``--checkpoint`` and
``--checkpoint-config`` only matter once inpainting runs). A check returns True or asserts itself."""


def refused_here(case: Case) -> str | None:
    """The error this machine must give for the case (a device or detector it does not have), else None."""
    if case.option == "--device" and case.value:
        try:
            pick_device(case.value)
        except DeviceError as exc:
            return str(exc)
    if case.option == "--detector" and case.value == "owlv2" and not hasattr(transformers, "Owlv2ForObjectDetection"):
        return "detector 'owlv2' needs transformers >= 4.35"
    if case.option in POOL_OPTIONS.values():  # the dry run here has no --ray
        return f"{case.option} only apply with --ray"
    if case.option == "--ray":  # this stack (pydantic 1) has no Ray: the run is refused with how to install it;
        try:                    # tests/cluster runs --ray in the stand-alone environment
            require_ray()
        except RayUnavailable as exc:
            return str(exc)
        pytest.fail("Ray is importable here: --ray runs in tests/cluster, under the stand-alone environment")
    return None


@pytest.mark.parametrize("case", cases(), ids=str)
def test_each_documented_process_option_works(case, rooms, tmp_path, recorder, keep_sigint, capsys):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_bytes(b"")
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "alien.yaml").write_text(
        f"name: alien\nrules:\n  - {{classes: [bed, window, table, lamp, chair, curtain], prompt: {THEME_PROMPT}}}\n")
    value = case.value.replace("{tmp}", str(tmp_path)) if case.value is not None else None
    option_args = [case.option] + ([value] if value is not None else [])
    out = Path(value) if case.option == "--out" else tmp_path / "out"
    code = cli.main(["process", str(rooms), "--out", str(tmp_path / "out"), "--dry-run", *SMALL, *option_args])
    err = capsys.readouterr().err
    refusal = refused_here(case)
    if refusal is not None:
        assert code == cli.EXIT_USAGE and f"error: {refusal}" in err and "Traceback" not in err, err
        return
    assert code == cli.EXIT_OK, err
    run = Run(out, tmp_path, recorder)
    assert run.manifests, f"{case}: nothing written to {out}"
    check = EFFECTS.get(case.option)
    if check is not None:
        assert check(run, value) in (None, True), f"{case}: no effect seen; manifests: {run.manifests[0]}"


def test_every_process_option_is_documented_with_its_choices():
    documented = documented_options()
    options = parser_options()
    assert sorted(set(options) - set(documented)) == [], "process options missing from README.md's Options"
    assert sorted(set(documented) - set(options)) == [], "README.md documents options process does not have"
    for name, action in options.items():
        if action.choices:
            shown = documented[name] or ""
            assert set(shown.split("|")) == set(action.choices), f"README.md shows {name} {shown}"
