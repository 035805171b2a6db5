"""The dataset report end to end: discover images, collect tags, aggregate, cluster, chart, write files."""

from __future__ import annotations

import base64
import datetime as _dt
import io
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..batch import atomic
from ..batch.cache import StageCache
from ..batch.discovery import discover
from ..batch.imageio import DEFAULT_MAX_PIXELS
from ..core.contracts import InterruptCheck, ProgressEvent, ProgressSink, Tagger, never_interrupted, no_progress
from ..core.sizing import WorkingSize
from ..core.theme import Theme
from . import charts
from .captions import CaptionStats
from .clusters import Clustering, choose_clusters, contact_sheet, describe, projection_2d
from .collect import BadFile, Collector, ManifestIndex
from .embed import Embedder
from .html import render_html
from .stats import TagStats
from .store import RecordStore

HTML_NAME = "report.html"
JSON_NAME = "report.json"
CACHE_DIR_NAME = ".alien-cache"


@dataclass(frozen=True)
class ReportOptions:
    """Where the report goes and how it is computed."""

    out_dir: Path
    theme: Theme | None = None
    manifests: tuple[Path, ...] = ()
    """Batch output folders whose manifests' tags are reused (matched by input sha256)."""
    use_cache: bool = True
    working_size: WorkingSize = field(default_factory=WorkingSize)
    max_pixels: int = DEFAULT_MAX_PIXELS
    style_min_score: float = 0.25
    heatmap_classes: int = 20
    chart_classes: int = 30
    max_clusters: int = 10
    sheet_size: int = 12
    seed: int = 0
    captions: bool = False
    """The tagger writes captions (the report then has a Captions section and per-image rows with them)."""


@dataclass
class ReportResult:
    html_path: Path
    json_path: Path
    data: dict[str, Any]
    interrupted: bool = False

    def summary(self) -> str:
        """A few lines for the command line and the WebUI."""
        stats, sources = self.data["stats"], self.data["tag_sources"]
        lines = [f"{stats['images']} images, {len(self.data['bad_files'])} bad file(s), "
                 f"{len(stats['classes'])} classes; tags: {sources['cache']} cached, {sources['manifest']} from "
                 f"manifests, {sources['tagger']} tagged now"]
        lines += [f"  bad file: {b['path']}: {b['problem']}" for b in self.data["bad_files"]]
        lines += [f"  {c['kind']}: {c['k']} cluster(s)" for c in self.data["clusters"]]
        if self.interrupted:
            lines.append("interrupted: the report covers the images tagged so far")
        lines.append(f"report: {self.html_path}")
        return "\n".join(lines)


def run_report(
    inputs: Sequence[Path],
    tagger: Tagger,
    options: ReportOptions,
    embedder: Embedder | None = None,
    progress: ProgressSink = no_progress,
    interrupted: InterruptCheck = never_interrupted,
) -> ReportResult:
    """Tag every image under ``inputs`` (reusing cached and manifest tags) and write report.html and report.json."""
    start = time.perf_counter()
    out_dir = Path(options.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    items, problems = discover(list(inputs), exclude=out_dir)
    bad = [BadFile(str(p.path), p.problem) for p in problems]
    manifests = ManifestIndex(options.manifests) if options.manifests else None
    collector = Collector(tagger, StageCache(out_dir / CACHE_DIR_NAME if options.use_cache else None), manifests,
                          embedder, options.working_size, options.max_pixels, captions=options.captions)
    stats = TagStats(options.theme, options.style_min_score)
    caption_stats = CaptionStats()
    stopped = False
    with tempfile.TemporaryDirectory(prefix=".report-rows-", dir=out_dir) as rows_dir, \
            RecordStore(Path(rows_dir)) as store:
        for index, item in enumerate(items):
            if interrupted():
                stopped = True
                break
            progress(ProgressEvent("image", index, len(items), str(item.path)))
            record = collector.record(item.path)
            if isinstance(record, BadFile):
                bad.append(record)
                continue
            stats.add(record)
            caption_stats.add(record.path, record.caption)
            store.add(record)
        progress(ProgressEvent("image", len(items), len(items), "clustering"))
        tag_matrix, class_names, paths = store.tag_matrix(), store.class_names(), store.paths()
        clusterings = _cluster(tag_matrix, store.embeddings(), options)
        described = {c.kind: describe(c, tag_matrix, class_names, paths, options.sheet_size) for c in clusterings}
    data: dict[str, Any] = {
        "format": "alien-filters/report@1",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "inputs": [str(p) for p in inputs],
        "tagger": tagger.name,
        "embedder": embedder.name if embedder is not None else None,
        "tag_sources": dict(collector.counts),
        "stats": stats.summary(options.heatmap_classes),
        "clusters": [
            {"kind": c.kind, "k": c.k, "silhouettes": {str(k): v for k, v in c.silhouettes.items()},
             "clusters": described[c.kind]}
            for c in clusterings
        ],
        "bad_files": [{"path": b.path, "problem": b.problem} for b in bad],
        "warnings": manifests.warnings if manifests is not None else [],
        "interrupted": stopped,
    }
    data["captions"] = caption_stats.summary(data["clusters"])
    if data["captions"] is not None:
        data["images"] = caption_stats.rows(paths)
    chart_uris = _charts(data, clusterings, options)
    sheets = {c["kind"]: _sheets(c["clusters"], options) for c in data["clusters"]}
    data["seconds"] = round(time.perf_counter() - start, 3)
    html_path, json_path = out_dir / HTML_NAME, out_dir / JSON_NAME
    atomic.write_json(json_path, data)
    atomic.write_text(html_path, render_html(data, chart_uris, sheets))
    return ReportResult(html_path, json_path, data, stopped)


def _cluster(tag_matrix: np.ndarray, embeddings: np.ndarray | None, options: ReportOptions) -> list[Clustering]:
    if tag_matrix.shape[0] == 0:
        return []
    found = [choose_clusters(tag_matrix, "tags", options.max_clusters, options.seed)]
    if embeddings is not None:
        found.append(choose_clusters(embeddings, "embeddings", options.max_clusters, options.seed))
    return found


def _charts(data: dict[str, Any], clusterings: list[Clustering], options: ReportOptions) -> dict[str, str]:
    stats = data["stats"]
    out: dict[str, str] = {}
    classes = stats["classes"][: options.chart_classes]
    if classes:
        out["frequencies"] = charts.bar_chart([c["class"] for c in classes], [c["images"] for c in classes],
                                              "Images per class", "images")
        cooc = stats["cooccurrence"]
        out["cooccurrence"] = charts.heatmap(cooc["classes"], cooc["images"], "Classes found together")
    if stats["styles"]:
        out["styles"] = charts.bar_chart([s["style"] for s in stats["styles"]],
                                         [s["top_style_images"] for s in stats["styles"]],
                                         "Top interior style per image", "images")
    if stats["theme"]:
        rules = stats["theme"]["rules"]
        out["coverage"] = charts.bar_chart([r["rule"] for r in rules], [r["images"] for r in rules],
                                           f"Images each rule of '{stats['theme']['name']}' fires on", "images")
    for clustering in clusterings:
        if clustering.silhouettes:
            ks = sorted(clustering.silhouettes)
            out[f"{clustering.kind}-silhouette"] = charts.line_chart(
                ks, [clustering.silhouettes[k] for k in ks], f"Choosing k ({clustering.kind})", "clusters k",
                "silhouette")
        out[f"{clustering.kind}-scatter"] = charts.scatter(
            projection_2d(clustering.vectors), clustering.labels, f"Images by {clustering.kind}, coloured by cluster")
    return out


def _sheets(clusters: list[dict[str, Any]], options: ReportOptions) -> dict[int, str]:
    """Contact sheets (JPEG data URIs), made at the end from at most ``sheet_size`` images per cluster."""
    out: dict[int, str] = {}
    for cluster in clusters:
        sheet, _ = contact_sheet(cluster["representatives"], max_pixels=options.max_pixels)
        if sheet is not None:
            buffer = io.BytesIO()
            sheet.save(buffer, format="JPEG", quality=82)
            out[cluster["cluster"]] = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return out

