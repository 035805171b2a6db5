"""One self-contained report.html: inline CSS, charts and contact sheets as data URIs, no scripts or URLs."""

from __future__ import annotations

from html import escape
from typing import Any, Mapping, Sequence

from .captions import captions_html

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f4f6f5;color:#1d2421}
header{background:#12372a;color:#e8f3ee;padding:18px 28px}
header h1{margin:0 0 6px;font-size:1.5em}
main{padding:8px 28px 40px;max-width:1200px}
section{background:#fff;border-radius:8px;padding:14px 20px;margin:18px 0;box-shadow:0 1px 3px #0002}
h2{margin-top:0;color:#12372a}
table{border-collapse:collapse;font-size:.9em;margin:8px 0}
th,td{padding:3px 10px;border-bottom:1px solid #dde3e0;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
img.chart{max-width:100%;height:auto;display:block;margin:8px 0}
.cards{display:flex;flex-wrap:wrap;gap:14px}
.card{border:1px solid #dde3e0;border-radius:6px;padding:10px;flex:1 1 340px}
.muted{color:#5b6b64;font-size:.9em}
.bad{color:#a0281e}
"""


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[bool] | None = None) -> str:
    numeric = numeric or [False] * len(headers)
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    cells = ("".join(f"<td{' class=n' if num else ''}>{escape(_text(v))}</td>"
                     for v, num in zip(row, numeric, strict=True)) for row in rows)
    body = "".join(f"<tr>{row}</tr>" for row in cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1%}" if 0 <= value <= 1 else f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _chart(uri: str | None, alt: str) -> str:
    return f'<img class="chart" src="{escape(uri)}" alt="{escape(alt)}">' if uri else ""


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>{body}</section>'


def render_html(data: Mapping[str, Any], charts: Mapping[str, str], sheets: Mapping[str, Mapping[int, str]]) -> str:
    """The report page for ``data`` (report.json's content), its ``charts`` and contact ``sheets`` (data URIs)."""
    stats = data["stats"]
    parts = [_overview(data), _frequencies(stats, charts), _styles(stats, charts), _cooccurrence(stats, charts)]
    if stats.get("theme"):
        parts.append(_coverage(stats["theme"], charts))
    for clustering in data["clusters"]:
        parts.append(_clusters(clustering, charts, sheets.get(clustering["kind"], {})))
    parts.append(captions_html(data.get("captions")))
    parts.append(_problems(data))
    title = f"Alien Filters dataset report: {stats['images']} images"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width\"><title>{escape(title)}</title>"
        f"<style>{CSS}</style></head><body><header><h1>{escape(title)}</h1>"
        f"<div>{escape(data['created'])} &middot; inputs: {escape(', '.join(data['inputs']))}</div></header>"
        f"<main>{''.join(parts)}</main></body></html>\n"
    )


def _overview(data: Mapping[str, Any]) -> str:
    stats, sources = data["stats"], data["tag_sources"]
    rows = [
        ("images reported", stats["images"]),
        ("files that could not be used", len(data["bad_files"])),
        ("images without any detected object", stats["images_without_objects"]),
        ("distinct classes", len(stats["classes"])),
        ("tags reused from the report cache", sources.get("cache", 0)),
        ("tags reused from batch manifests", sources.get("manifest", 0)),
        ("images tagged now", sources.get("tagger", 0)),
        ("tagger", data["tagger"]),
        ("report time", f"{data['seconds']:.1f} s"),
    ]
    return _section("overview", "Overview", _table(["", ""], rows, [False, True]))


def _frequencies(stats: Mapping[str, Any], charts: Mapping[str, str]) -> str:
    rows = [(c["class"], c["images"], c["fraction"], f"{c['mean_score']:.3f}") for c in stats["classes"]]
    body = _chart(charts.get("frequencies"), "tag frequency bar chart")
    body += _table(["class", "images", "share of images", "mean score"], rows, [False, True, True, True])
    return _section("frequencies", "Tag frequencies", body)


def _styles(stats: Mapping[str, Any], charts: Mapping[str, str]) -> str:
    note = (f"<p class=muted>Top style: each image's best style. Images with the style: its score is at least "
            f"{stats['style_min_score']} (or it is the best).</p>")
    rows = [(s["style"], s["top_style_images"], s["images"], s["fraction"]) for s in stats["styles"]]
    body = _chart(charts.get("styles"), "style distribution bar chart") + note
    body += _table(["style", "top style of", "images with the style", "share"], rows, [False, True, True, True])
    return _section("styles", "Interior styles", body)


def _cooccurrence(stats: Mapping[str, Any], charts: Mapping[str, str]) -> str:
    if not stats["cooccurrence"]["classes"]:
        return _section("cooccurrence", "Co-occurrence", "<p class=muted>No objects were detected.</p>")
    note = "<p class=muted>Images in which both classes were found; the diagonal counts each class alone.</p>"
    return _section("cooccurrence", "Co-occurrence of the most frequent classes",
                    note + _chart(charts.get("cooccurrence"), "co-occurrence heat map"))


def _coverage(theme: Mapping[str, Any], charts: Mapping[str, str]) -> str:
    note = ("<p class=muted>A rule fires on an image when a class it owns there was detected (style conditions "
            "as in planning) and the detection boxes cover at least its min_area; masks are smaller than boxes, "
            "so these counts are an upper bound. 'too small': found, but below min_area.</p>")
    rows = [(r["rule"], r["classes"], r["when_style"] or "", r["images"], r["fraction"], r["too_small"])
            for r in theme["rules"]]
    body = _chart(charts.get("coverage"), "rule firing bar chart") + note
    body += _table(["rule", "classes", "only for styles", "fires on", "share", "too small"], rows,
                   [False, False, False, True, True, True])
    body += "<h3>Classes no rule covers</h3>"
    if theme["uncovered"]:
        rows = [(u["class"], u["images"], u["fraction"]) for u in theme["uncovered"]]
        body += _table(["class", "images", "share of images"], rows, [False, True, True])
    else:
        body += "<p>Every detected class is covered by a rule.</p>"
    return _section("coverage", f"Theme coverage: {theme['name']}", body)


def _clusters(clustering: Mapping[str, Any], charts: Mapping[str, str], sheets: Mapping[int, str]) -> str:
    kind = clustering["kind"]
    title = {"tags": "Clusters by tags", "embeddings": "Clusters by CLIP image embeddings"}.get(kind, kind)
    scores = clustering["silhouettes"]
    how = (f"{clustering['k']} clusters: the k with the best silhouette score among "
           f"{', '.join(f'{k} ({v:.3f})' for k, v in scores.items())}" if scores
           else f"{clustering['k']} cluster(s): the data leaves no choice (too few distinct images)")
    body = f"<p class=muted>{escape(how)}.</p>"
    body += _chart(charts.get(f"{kind}-silhouette"), f"{kind} silhouette by k")
    body += _chart(charts.get(f"{kind}-scatter"), f"{kind} clusters, two principal components")
    cards = []
    for cluster in clustering["clusters"]:
        tags = ", ".join(f"{t['class']} ({t['fraction']:.0%})" for t in cluster["top_tags"]) or "no objects"
        sheet = sheets.get(cluster["cluster"])
        image = (f'<img class="chart" src="{escape(sheet)}" alt="contact sheet of cluster {cluster["cluster"]}">'
                 if sheet else "<p class=muted>no thumbnail could be made</p>")
        names = ", ".join(p.replace("\\", "/").rsplit("/", 1)[-1] for p in cluster["representatives"])
        cards.append(f'<div class="card"><h3>Cluster {cluster["cluster"]} &middot; {cluster["size"]} images</h3>'
                     f"<p><b>Top tags:</b> {escape(tags)}</p>{image}<p class=muted>{escape(names)}</p></div>")
    return _section(f"clusters-{kind}", title, body + f'<div class="cards">{"".join(cards)}</div>')


def _problems(data: Mapping[str, Any]) -> str:
    bad = data["bad_files"]
    body = (_table(["file", "problem"], [(b["path"], b["problem"]) for b in bad]) if bad
            else "<p>Every file could be used.</p>")
    if data["warnings"]:
        body += "<h3>Warnings</h3><ul>" + "".join(f"<li>{escape(w)}</li>" for w in data["warnings"]) + "</ul>"
    return _section("problems", f"Files that could not be used ({len(bad)})", f'<div class="bad">{body}</div>'
                    if bad else body)
