"""What the captions say across a set: frequent content words and two-word phrases, caption lengths, an example
caption per cluster, and the captions per image (report.json) with their section of report.html.

Words are lower-case runs of letters (and apostrophes); stop words are scikit-learn's English list. A two-word
phrase is two adjacent words of a caption, neither a stop word ("hotel room" in "a hotel room with a bed").
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from itertools import pairwise
from typing import Any, Mapping

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def words(caption: str) -> list[str]:
    """The caption's words, lower case, in order (stop words included)."""
    return WORD.findall(caption.lower())


@dataclass
class CaptionStats:
    """Add captions with :meth:`add` (path, caption or None); :meth:`summary` gives report.json's ``captions``."""

    top: int = 30
    images: int = 0
    """Images reported (with or without a caption)."""
    captions: dict[str, str] = field(default_factory=dict)
    """Path -> caption of every captioned image (about 100 bytes each: 1 MB per 10,000 images)."""
    word_counts: Counter[str] = field(default_factory=Counter)
    phrase_counts: Counter[str] = field(default_factory=Counter)
    lengths: Counter[int] = field(default_factory=Counter)

    def add(self, path: str, caption: str | None) -> None:
        self.images += 1
        if caption is None:
            return
        self.captions[path] = caption
        found = words(caption)
        self.lengths[len(found)] += 1
        self.word_counts.update(w for w in found if w not in ENGLISH_STOP_WORDS)
        self.phrase_counts.update(f"{a} {b}" for a, b in pairwise(found)
                                  if a not in ENGLISH_STOP_WORDS and b not in ENGLISH_STOP_WORDS)

    def summary(self, clusterings: list[dict[str, Any]]) -> dict[str, Any] | None:
        """JSON-ready caption numbers, None when no image has a caption. ``clusterings``: report.json's
        ``clusters`` entries; each cluster's example is the caption of its first captioned representative."""
        if not self.captions:
            return None
        n = len(self.captions)
        sizes = sorted(self.lengths.elements())
        return {
            "images_with_caption": n,
            "images_without_caption": self.images - n,
            "words": [{"word": w, "count": c} for w, c in _ranked(self.word_counts, self.top)],
            "phrases": [{"phrase": p, "count": c} for p, c in _ranked(self.phrase_counts, self.top)],
            "length_words": {"min": sizes[0], "median": sizes[len(sizes) // 2], "max": sizes[-1],
                             "mean": round(sum(sizes) / n, 2),
                             "histogram": {str(k): self.lengths[k] for k in sorted(self.lengths)}},
            "examples": [{"kind": c["kind"], "cluster": cluster["cluster"], **self._example(cluster)}
                         for c in clusterings for cluster in c["clusters"]],
        }

    def _example(self, cluster: Mapping[str, Any]) -> dict[str, str | None]:
        for path in (*cluster["representatives"], *cluster["members"]):
            if path in self.captions:
                return {"path": path, "caption": self.captions[path]}
        return {"path": None, "caption": None}

    def rows(self, paths: list[str]) -> list[dict[str, str | None]]:
        """report.json's per-image rows: every reported image's path and caption (None where it has none)."""
        return [{"path": p, "caption": self.captions.get(p)} for p in paths]


def _ranked(counts: Counter[str], top: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def captions_html(summary: Mapping[str, Any] | None) -> str:
    """The report's Captions section ('' when no image has a caption)."""
    if not summary:
        return ""
    length = summary["length_words"]
    body = (f"<p class=muted>{summary['images_with_caption']} images with a caption, "
            f"{summary['images_without_caption']} without. Stop words are left out of the counts.</p>")
    body += _pairs("Most frequent words", "word", summary["words"])
    body += _pairs("Most frequent two-word phrases", "phrase", summary["phrases"])
    histogram = ", ".join(f"{k} words: {v}" for k, v in length["histogram"].items())
    body += (f"<h3>Caption length</h3><p>{length['min']} to {length['max']} words, median {length['median']}, "
             f"mean {length['mean']}.</p><p class=muted>{escape(histogram)}</p>")
    if summary["examples"]:
        rows = "".join(f"<tr><td>{escape(e['kind'])}</td><td class=n>{e['cluster']}</td>"
                       f"<td>{escape(e['caption'] or '(no caption)')}</td></tr>" for e in summary["examples"])
        body += ("<h3>One caption per cluster</h3><table><thead><tr><th>clustering</th><th>cluster</th>"
                 f"<th>example caption</th></tr></thead><tbody>{rows}</tbody></table>")
    return f'<section id="captions"><h2>Captions</h2>{body}</section>'


def _pairs(title: str, key: str, entries: list[dict[str, Any]]) -> str:
    if not entries:
        return f"<h3>{escape(title)}</h3><p class=muted>none</p>"
    rows = "".join(f"<tr><td>{escape(e[key])}</td><td class=n>{e['count']}</td></tr>" for e in entries)
    return f"<h3>{escape(title)}</h3><table><thead><tr><th>{key}</th><th>occurrences</th></tr></thead>" \
           f"<tbody>{rows}</tbody></table>"
