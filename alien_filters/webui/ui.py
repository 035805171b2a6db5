"""The "Alien Filters" tab (gradio 3.41 in the WebUI, 4.40 in Forge: only what both have).

:class:`TabActions` holds what the buttons do (plain Python, tested without a browser); :func:`build_tab`
lays the components out and wires them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from ..batch.discovery import discover
from ..batch.manifest import tags_line
from ..batch.outcomes import BatchReport
from ..core.errors import AlienFiltersError
from ..core.pipeline import PipelineOptions
from ..core.run_options import StageChoices
from ..core.states import ImageStatus
from ..core.theme import NAME_PATTERN
from ..themes import ThemeError, parse_theme
from ..themes.lint import check_theme
from . import console, runtime
from .paths import PathNotAllowed, outside_roots, resolve_inside
from .report_tab import ReportActions, build_report_section
from .service import AlienService, RunOptions
from .settings import current

STAGES = ["restore", "tag", "segment", "inpaint"]
GRADIO_4 = int(gr.__version__.split(".")[0]) >= 4
JS_KEY = "js" if GRADIO_4 else "_js"


def upload_paths(files: Any) -> list[Path]:
    """Paths of gr.File uploads: gradio 3 gives temp-file objects (``.name``), gradio 4 plain paths."""
    return [Path(getattr(f, "name", f)) for f in (files or [])]


@dataclass
class Selection:
    """What the gallery shows, per result: input name, tags, prompts per rule and seeds."""

    items: list[dict[str, Any]] = field(default_factory=list)


class TabActions:
    """The tab's behaviour over an :class:`AlienService`."""

    def __init__(self, service: AlienService) -> None:
        self.service = service

    def theme_names(self) -> list[str]:
        return sorted(self.service.catalog().themes)

    def theme_yaml(self, name: str) -> str:
        theme = self.service.catalog().themes.get(name)
        if theme is None:
            return ""
        source = Path(theme.source)
        return source.read_text(encoding="utf-8") if source.is_file() else ""

    def validate(self, text: str) -> str:
        """Live validation message for the YAML editor."""
        if not text.strip():
            return "Empty: the selected theme is used."
        try:
            theme = parse_theme(text, "editor")
        except ThemeError as exc:
            return f"❌ {exc}"
        warnings, notes = check_theme(theme)
        lines = [f"✅ theme '{theme.name}': {len(theme.rules)} rules", *(f"⚠️ {w}" for w in warnings), *notes]
        return "\n\n".join(lines)

    def save_as(self, name: str, text: str) -> tuple[str, Any]:
        """Write the editor's theme into the user themes folder as ``<name>.yaml``."""
        name = (name or "").strip()
        if not NAME_PATTERN.fullmatch(name):
            return "❌ a theme name uses a-z, 0-9, '_' and '-' only", gr.update()
        try:
            parse_theme(text, "editor")
        except ThemeError as exc:
            return f"❌ not saved: {exc}", gr.update()
        folder = Path(current().themes_dir)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{name}.yaml"
        target.write_text(text, encoding="utf-8")
        return f"✅ saved {target}", gr.update(choices=self.theme_names())

    def run_options(self, theme_name: str, yaml_text: str, stages: list[str], detector: str, segmenter: str,
                    seed: float, captions: bool = False) -> RunOptions:
        theme = self.service.theme(theme_name, yaml_text if yaml_text.strip() else None)
        switches = {s: s in (stages or []) for s in STAGES}
        settings = current()
        return RunOptions(theme=theme, seed=int(seed or 0), options=PipelineOptions(**switches, caption=bool(captions)),
                          save_previews=settings.save_previews, save_masks=settings.save_masks,
                          choices=StageChoices(detector=detector, segmenter=segmenter))

    def inputs(self, source: str, files: Any, folder: str) -> list[Path]:
        """The images to process: the uploads, or the server folder (allowed roots only)."""
        if source == "Server folder":
            roots = current().roots()
            found = resolve_inside(folder.strip(), roots)
            if not found.is_dir():
                raise ValueError(f"{folder}: no such folder")
            return [found]
        paths = upload_paths(files)
        if not paths:
            raise ValueError("upload at least one image, or choose 'Server folder'")
        return paths

    def preview(self, task_id, source, files, folder, theme_name, yaml_text, stages, detector, segmenter, seed,
                captions=False):
        """Restore, tag, segment and plan the first image: (preview sheet, tags line and caption, plan text, status
        text)."""
        try:
            run = self.run_options(theme_name, yaml_text, stages, detector, segmenter, seed, captions)
            first = _first_image(self.inputs(source, files, folder))
            run = RunOptions(theme=run.theme, seed=run.seed, choices=run.choices, save_previews=True,
                             options=PipelineOptions(restore=run.options.restore, tag=run.options.tag,
                                                     segment=run.options.segment, inpaint=False,
                                                     caption=run.options.caption))
            upload = self.service.decode_upload(first.name, first.read_bytes())
        except (AlienFiltersError, ValueError, PathNotAllowed, OSError) as exc:
            return None, "", "", f"❌ {exc}"
        try:
            outcome = self.service.process_images([upload], run, task_id=_task(task_id))[0]
        except AlienFiltersError as exc:
            return None, "", "", _failure("Preview", exc)
        except Exception as exc:  # in words in the tab; the traceback goes to the console
            return None, "", "", _unexpected("Preview", exc)
        if outcome.result is None:
            return None, "", "", f"❌ {first.name}: {outcome.message}"
        jobs = outcome.result.plan.jobs
        plan = "\n".join(f"{j.rule} ({', '.join(j.classes)}): {j.prompt} [seed {j.seed}]" for j in jobs)
        caption = outcome.result.tags.caption
        tags = tags_line(outcome.result) + (f"\nCaption: {caption}" if caption is not None else "")
        return (outcome.preview, tags, plan or "no rule of the theme matches this image",
                f"preview of {first.name}: {len(jobs)} inpaint jobs planned")

    def run(self, task_id, source, files, folder, out_folder, theme_name, yaml_text, stages, detector, segmenter,
            seed, captions=False):
        """Process every input into the output folder: (gallery pairs, selection state, status text)."""
        try:
            run = self.run_options(theme_name, yaml_text, stages, detector, segmenter, seed, captions)
            inputs = self.inputs(source, files, folder)
            roots = current().roots()
            out_dir = resolve_inside(out_folder.strip() or current().output_dir, roots)
            if source == "Server folder":
                escaping = outside_roots([i.path for i in discover(inputs, exclude=out_dir)[0]], roots)
                if escaping:
                    raise PathNotAllowed(str(escaping[0]), "links to a file outside the allowed roots")
        except (AlienFiltersError, ValueError, PathNotAllowed) as exc:
            return [], Selection(), f"❌ {exc}"
        try:
            with runtime.session(_task(task_id) or runtime.new_task_id()):
                report = self.service.runner(run, out_dir).run(inputs)
        except AlienFiltersError as exc:
            return [], Selection(), _failure("Run", exc)
        except Exception as exc:  # in words in the tab; the traceback goes to the console
            return [], Selection(), _unexpected("Run", exc)
        console.failures((o.input, o.status, o.message) for o in report.outcomes)
        console.failures((str(p.path), ImageStatus.FAILED, p.problem) for p in report.problems)
        gallery, selection = _gallery(report, out_dir)
        return gallery, selection, report.summary()

    def select(self, selection: Selection, evt: gr.SelectData) -> dict[str, Any]:
        """Details of the gallery item clicked (before and after share one entry)."""
        items = selection.items if isinstance(selection, Selection) else []
        index = int(evt.index) // 2 if items else -1
        return items[index] if 0 <= index < len(items) else {}


def _task(task_id: Any) -> str | None:
    """The WebUI task id the button's javascript gave (its progress bar follows it), else None."""
    return task_id if str(task_id).startswith("task(") else None


def _failure(what: str, exc: AlienFiltersError) -> str:
    """The status line for work that could not run (a missing model: its file, URL and folder; a busy output
    folder, ...); the console gets the same line for whoever runs the server."""
    console.failed(what, str(exc))
    return f"❌ {exc}"


def _unexpected(what: str, exc: Exception) -> str:
    """The status line for an unexpected error; its traceback goes to the WebUI's console."""
    console.unexpected(f"{what} failed")
    return f"❌ {what} failed unexpectedly ({type(exc).__name__}: {exc}); the console has the details"


def _first_image(inputs: list[Path]) -> Path:
    items, _ = discover(inputs)
    if not items:
        raise ValueError("no image found in the input")
    return items[0].path


def _gallery(report: BatchReport, out_dir: Path) -> tuple[list[tuple[Image.Image, str]], Selection]:
    pairs: list[tuple[Image.Image, str]] = []
    selection = Selection()
    for outcome in report.outcomes:
        if "manifest" not in outcome.outputs or "result" not in outcome.outputs:
            continue
        manifest = json.loads((out_dir / outcome.outputs["manifest"]).read_text(encoding="utf-8"))
        name = os.path.basename(outcome.input)
        before = Image.open(outcome.input).convert("RGB")
        after = Image.open(out_dir / outcome.outputs["result"]).convert("RGB")
        pairs += [(before, f"before: {name}"), (after, f"after: {name}")]
        selection.items.append({
            "input": outcome.input,
            "tags": (out_dir / outcome.outputs["tags"]).read_text(encoding="utf-8").strip(),
            **({"caption": manifest["tags"]["caption"]} if manifest["tags"].get("caption") is not None else {}),
            "prompts": {job["rule"]: job["prompt"] for job in manifest["plan"]["jobs"]},
            "seeds": {job["rule"]: job["seed"] for job in manifest["plan"]["jobs"]},
            "seed": manifest["seed"],
        })
    return pairs, selection


def build_tab(service: AlienService) -> gr.Blocks:
    """The tab's Blocks (built fresh on every UI build)."""
    actions = TabActions(service)
    settings = current()
    names = actions.theme_names()
    default_theme = settings.default_theme if settings.default_theme in names else (names[0] if names else None)
    with gr.Blocks(analytics_enabled=False) as tab:
        task_id = gr.Textbox(visible=False, elem_id="alien_filters_task_id")
        with gr.Row():
            with gr.Column():
                source = gr.Radio(["Upload", "Server folder"], value="Upload", label="Input",
                                  elem_id="alien_filters_source")
                files = gr.File(file_count="multiple", file_types=["image"], label="Images",
                                elem_id="alien_filters_files")
                folder = gr.Textbox(label="Server folder (inside the allowed roots)", elem_id="alien_filters_folder")
                out_folder = gr.Textbox(value=settings.output_dir, label="Output folder",
                                        elem_id="alien_filters_output")
                theme = gr.Dropdown(names, value=default_theme, label="Theme", elem_id="alien_filters_theme")
                with gr.Accordion("Edit the theme (YAML)", open=False):
                    editor = gr.Code(value=actions.theme_yaml(default_theme) if default_theme else "",
                                     language="yaml", label="Theme YAML", elem_id="alien_filters_yaml")
                    with gr.Row():
                        save_name = gr.Textbox(label="Save as (theme name)", elem_id="alien_filters_save_name")
                        save = gr.Button("Save as", elem_id="alien_filters_save")
                validation = gr.Markdown(elem_id="alien_filters_validation")
                stages = gr.CheckboxGroup(STAGES, value=list(STAGES), label="Stages", elem_id="alien_filters_stages")
                with gr.Row():
                    detector = gr.Dropdown(list(StageChoices.DETECTORS), value=StageChoices.detector,
                                           label="Detector", elem_id="alien_filters_detector")
                    segmenter = gr.Dropdown(list(StageChoices.SEGMENTERS), value=StageChoices.segmenter,
                                            label="Segmenter", elem_id="alien_filters_segmenter")
                    seed = gr.Number(value=0, precision=0, label="Seed", elem_id="alien_filters_seed")
                    captions = gr.Checkbox(value=False, label="Captions", elem_id="alien_filters_captions")
                with gr.Row():
                    preview = gr.Button("Preview", elem_id="alien_filters_preview")
                    run = gr.Button("Run", variant="primary", elem_id="alien_filters_run")
            with gr.Column():
                sheet = gr.Image(label="Preview: original | masks | plan", interactive=False,
                                 elem_id="alien_filters_sheet")
                tags = gr.Textbox(label="Tags (and caption)", lines=2, interactive=False, elem_id="alien_filters_tags")
                plan = gr.Textbox(label="Plan", lines=4, interactive=False, elem_id="alien_filters_plan")
                gallery = gr.Gallery(label="Before / after", columns=2, height=480, elem_id="alien_filters_gallery")
                details = gr.JSON(label="Selected result", elem_id="alien_filters_details")
                status = gr.Textbox(label="Status", lines=3, interactive=False, elem_id="alien_filters_status")
        build_report_section(ReportActions(service), theme, task_id, JS_KEY,
                             str(Path(settings.output_dir) / "report"))
        selection = gr.State(Selection())
        config = [theme, editor, stages, detector, segmenter, seed, captions]

        theme.change(actions.theme_yaml, [theme], [editor])
        editor.change(actions.validate, [editor], [validation])
        save.click(actions.save_as, [save_name, editor], [validation, theme])
        preview.click(actions.preview, [task_id, source, files, folder, *config], [sheet, tags, plan, status],
                      **{JS_KEY: "alienFiltersPreview"})
        run.click(actions.run, [task_id, source, files, folder, out_folder, *config], [gallery, selection, status],
                  **{JS_KEY: "alienFiltersRun"})
        gallery.select(actions.select, [selection], [details])
    return tab
