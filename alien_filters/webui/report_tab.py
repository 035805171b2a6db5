"""The tab's "Dataset report" section: tag a set of server images and folders, write report.html, preview it.

Folders are checked against the allowed roots like every other path of the tab; the work holds the WebUI's
queue lock (one :func:`runtime.session`) and shows its progress in the WebUI's progress bar; Interrupt stops it
with a report of the images tagged so far.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from html import escape
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from ..batch.discovery import discover
from ..core.errors import AlienFiltersError
from ..core.pipeline import PipelineOptions
from . import console, runtime
from .paths import PathNotAllowed, outside_roots, resolve_inside
from .service import AlienService, RunOptions
from .settings import current

PREVIEW_HEIGHT = 720
TAG_ONLY = PipelineOptions(restore=False, tag=True, segment=False, inpaint=False)


def report_preview(html_path: Path) -> str:
    """The report inside an iframe (``srcdoc``), so that its styles stay out of the WebUI page."""
    page = Path(html_path).read_text(encoding="utf-8")
    return (f'<iframe title="dataset report" srcdoc="{escape(page, quote=True)}" '
            f'style="width:100%;height:{PREVIEW_HEIGHT}px;border:1px solid #8884;border-radius:6px"></iframe>')


class ReportActions:
    """What the section's button does, over the tab's :class:`AlienService` (its tagger is shared)."""

    def __init__(self, service: AlienService) -> None:
        self.service = service

    def paths(self, inputs_text: str, out_text: str) -> tuple[list[Path], Path]:
        """The inputs and the report folder, each inside the allowed roots (PathNotAllowed / ValueError)."""
        lines = [line.strip() for line in (inputs_text or "").splitlines() if line.strip()]
        if not lines:
            raise ValueError("give at least one server image or folder (one per line)")
        if not (out_text or "").strip():
            raise ValueError("give a report folder for report.html")
        roots = current().roots()
        inputs = [resolve_inside(line, roots) for line in lines]
        missing = [str(p) for p in inputs if not p.exists()]
        if missing:
            raise ValueError(f"{missing[0]}: no such file or folder")
        escaping = outside_roots([item.path for item in discover(inputs)[0]], roots)
        if escaping:
            raise PathNotAllowed(str(escaping[0]), "links to a file outside the allowed roots")
        return inputs, resolve_inside(out_text.strip(), roots)

    def run(self, task_id: str, inputs_text: str, out_text: str, theme_name: str,
            captions: bool = True) -> tuple[str, str | None, str]:
        """(summary, path of report.html, iframe preview); problems come back as a ❌ line in the summary.
        ``captions``: caption each image with the WebUI's BLIP for the report's Captions section."""
        try:  # imported here: the tab must load even where the report's libraries (scikit-learn) are missing
            from ..report.embed import ClipImageEmbedder
            from ..report.run import ReportOptions, run_report
        except ImportError as exc:
            return (f"❌ the dataset report needs {exc.name or exc} (the extension's install.py installs it: restart "
                    "the WebUI, or pip install scikit-learn into its environment)"), None, ""
        try:
            inputs, out_dir = self.paths(inputs_text, out_text)
            theme = self.service.theme(theme_name or None)
            task = task_id if str(task_id).startswith("task(") else runtime.new_task_id("alien-report")
            with runtime.session(task, job="Alien Filters report"):
                options = replace(TAG_ONLY, caption=bool(captions))
                tagger = self.service.stages(RunOptions(theme=theme, options=options)).tagger
                scorer = getattr(tagger, "style_scorer", None)  # cluster by the tagger's own CLIP
                embedder = ClipImageEmbedder.from_scorer(scorer) if scorer is not None else None
                report_options = ReportOptions(out_dir=out_dir, theme=theme, captions=bool(captions))
                result = run_report(inputs, tagger, report_options, embedder, runtime.report_progress,
                                    runtime.interrupted)
        except (AlienFiltersError, PathNotAllowed, ValueError, OSError) as exc:
            return f"❌ {exc}", None, ""
        except Exception as exc:  # in words in the tab; the traceback goes to the console
            console.unexpected("dataset report failed")
            return f"❌ {type(exc).__name__}: {exc}", None, ""
        return result.summary(), str(result.html_path), report_preview(result.html_path)


@dataclass
class ReportSection:
    """The section's components (tests reach them through here)."""

    inputs: Any
    out_dir: Any
    theme: Any
    captions: Any
    button: Any
    summary: Any
    file: Any
    preview: Any


def build_report_section(actions: ReportActions, theme: Any, task_id: Any, js_key: str,
                         default_out: str) -> ReportSection:
    """Add the section to the current Blocks; it uses the tab's theme dropdown and task-id box."""
    run: Callable = actions.run
    with gr.Accordion("Dataset report", open=False, elem_id="alien_filters_report"):
        gr.Markdown("Tags every image (cached tags are reused), then writes report.html with tag frequencies, "
                    "styles, co-occurrence, coverage by the selected theme, clusters and what the captions say.")
        inputs = gr.Textbox(label="Server images and folders (one per line, inside the allowed roots)", lines=3,
                            elem_id="alien_filters_report_inputs")
        out_dir = gr.Textbox(label="Report folder", value=default_out, elem_id="alien_filters_report_folder")
        captions = gr.Checkbox(value=True, label="Captions (the WebUI's BLIP interrogator; downloaded by the WebUI "
                               "on first use)", elem_id="alien_filters_report_captions")
        button = gr.Button("Make report", elem_id="alien_filters_report_run")
        summary = gr.Textbox(label="Report", lines=4, interactive=False, elem_id="alien_filters_report_summary")
        file = gr.File(label="report.html", interactive=False, elem_id="alien_filters_report_file")
        preview = gr.HTML(elem_id="alien_filters_report_preview")
    button.click(run, [task_id, inputs, out_dir, theme, captions], [summary, file, preview],
                 **{js_key: "alienFiltersReport"})
    return ReportSection(inputs, out_dir, theme, captions, button, summary, file, preview)
