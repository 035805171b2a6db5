"""The "Report" section of the WebUI tab (gradio 3.41 and 4.x): folders in, report summary, file and preview out."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    from ..core.contracts import InterruptCheck, ProgressSink, Tagger
    from .embed import Embedder

RunReportFn = Callable[[list[Path], Path, str], tuple[str, Path | None]]
"""(input paths, output folder, theme name) -> (summary text, path of report.html or None)."""

PREVIEW_HEIGHT = 720


@dataclass
class ReportSection:
    """The section's components and its click handler (``run``: the same function the button calls)."""

    inputs: Any
    out_dir: Any
    theme: Any
    button: Any
    summary: Any
    file: Any
    preview: Any
    run: Callable[[str, str, str], tuple[str, str | None, str]]


def report_preview(html_path: Path) -> str:
    """The report inside an iframe (``srcdoc``), so that its styles stay out of the WebUI page."""
    page = Path(html_path).read_text(encoding="utf-8")
    return (f'<iframe title="dataset report" srcdoc="{escape(page, quote=True)}" '
            f'style="width:100%;height:{PREVIEW_HEIGHT}px;border:1px solid #8884;border-radius:6px"></iframe>')


def make_run_report_fn(tagger: Tagger, themes_dir: Path | None = None, embedder: Embedder | None = None,
                       progress: ProgressSink | None = None, interrupted: InterruptCheck | None = None) -> RunReportFn:
    """A RunReportFn over ``tagger`` (e.g. the WebUI's tagging stage, or a LazyTagger) and optional ``embedder``;
    ``progress`` and ``interrupted`` connect the WebUI's progress bar and Interrupt button."""

    def run(inputs: list[Path], out_dir: Path, theme_name: str) -> tuple[str, Path | None]:
        from ..core.contracts import never_interrupted, no_progress
        from ..themes import get_theme
        from .run import ReportOptions, run_report

        options = ReportOptions(out_dir=out_dir, theme=get_theme(theme_name, themes_dir) if theme_name else None)
        result = run_report(inputs, tagger, options, embedder, progress or no_progress,
                            interrupted or never_interrupted)
        return result.summary(), result.html_path

    return run


def build_report_section(gr: Any, run_report_fn: RunReportFn, themes: Sequence[str] = ("alien",),
                         default_out: str = "") -> ReportSection:
    """Add the Report section to the current gradio Blocks; ``run_report_fn`` does the work (see RunReportFn)."""

    def run(inputs_text: str, out_text: str, theme: str) -> tuple[str, str | None, str]:
        inputs = [Path(line.strip()) for line in (inputs_text or "").splitlines() if line.strip()]
        if not inputs:
            return "error: give at least one image file or folder (one per line)", None, ""
        if not (out_text or "").strip():
            return "error: give an output folder for report.html", None, ""
        try:
            summary, html_path = run_report_fn(inputs, Path(out_text.strip()), theme)
        except Exception as exc:  # shown to the user in the tab instead of a traceback in the console only
            return f"error: {type(exc).__name__}: {exc}", None, ""
        if html_path is None:
            return summary, None, ""
        return summary, str(html_path), report_preview(html_path)

    with gr.Group():
        gr.Markdown("### Dataset report\nTags every image (cached tags are reused), then writes report.html "
                    "with tag frequencies, styles, co-occurrence, theme coverage and clusters.")
        inputs = gr.Textbox(label="Images and folders (one per line)", lines=3)
        with gr.Row():
            out_dir = gr.Textbox(label="Report folder", value=default_out)
            theme = gr.Dropdown(label="Theme", choices=list(themes), value=themes[0] if themes else None)
        button = gr.Button("Make report", variant="primary")
        summary = gr.Textbox(label="Summary", lines=4, interactive=False)
        file = gr.File(label="report.html", interactive=False)
        preview = gr.HTML()
    button.click(run, inputs=[inputs, out_dir, theme], outputs=[summary, file, preview])
    return ReportSection(inputs, out_dir, theme, button, summary, file, preview, run)
