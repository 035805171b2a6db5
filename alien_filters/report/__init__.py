"""The dataset report: tags, style distribution, co-occurrence, theme coverage and clusters over a folder."""

from .collect import BadFile, LazyEmbedder, LazyTagger, StageUnavailable, TagRecord
from .embed import ClipImageEmbedder, Embedder
from .run import ReportOptions, ReportResult, run_report

__all__ = ["BadFile", "ClipImageEmbedder", "Embedder", "LazyEmbedder", "LazyTagger", "ReportOptions",
           "ReportResult", "StageUnavailable", "TagRecord", "run_report"]
