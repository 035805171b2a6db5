"""The WebUI's "infotext" for our results: the ``parameters`` PNG text chunk that its PNG Info tab reads.

A1111 v1.10.1 writes it in modules/processing.py ``create_infotext``: the prompt, then ``Negative prompt: ...``
(only when there is one), then one line of ``Key: value`` pairs joined by ", " with values that hold a comma, colon
or newline JSON-quoted (modules/infotext_utils.py ``quote``). modules/images.py ``read_info_from_image`` takes it
from the ``parameters`` text chunk and modules/infotext_utils.py ``parse_generation_parameters`` reads it back.

One result is made by several inpaint jobs (one per rule of the theme), PNG Info by one generation, so a result
carries two chunks (see :func:`png_text`): ``parameters``, the infotext of its largest job with our keys
``Alien Filters job``, ``Alien Filters jobs`` and ``Alien Filters rule`` at the end of the parameter line; and
``alien_filters``, JSON of every job with its own infotext (the PNG Info tab lists that chunk too).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from . import masks
from .pipeline import ImageResult

PARAMETERS_CHUNK = "parameters"
"""The text chunk the WebUI writes its infotext into and its PNG Info tab reads."""
JOBS_CHUNK = "alien_filters"
"""Our text chunk: JSON of every inpaint job of the result (format :data:`JOBS_FORMAT`)."""
JOBS_FORMAT = "alien-filters/jobs@1"


def quote(value: object) -> str:
    """A value as infotext_utils.quote writes it: JSON-quoted when it holds a comma, newline or colon."""
    text = str(value)
    if "," not in text and "\n" not in text and ":" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def create_infotext(prompt: str, negative_prompt: str, params: Mapping[str, object]) -> str:
    """An infotext in the form of processing.create_infotext; ``params`` in order, None values left out."""
    line = ", ".join(k if k == v else f"{k}: {quote(v)}" for k, v in params.items() if v is not None)
    negative = f"\nNegative prompt: {negative_prompt}" if negative_prompt else ""
    return f"{prompt}{negative}\n{line}".strip()


def with_params(infotext: str, params: Mapping[str, object]) -> str:
    """``infotext`` with ``params`` appended to its parameter line (its last line)."""
    return ", ".join([infotext.rstrip(), *(f"{k}: {quote(v)}" for k, v in params.items())])


def png_text(result: ImageResult) -> dict[str, str]:
    """The text chunks of a result PNG: ``parameters`` (the infotext of the largest job that generated something,
    none when no job did) and ``alien_filters`` (JSON of every job of the plan with its ControlNet unit and its
    infotext or null, and the finishing pass's infotext when it ran)."""
    jobs = result.plan.jobs
    texts = dict(enumerate(result.infotexts))
    areas = [masks.area_fraction(job.mask) for job in jobs]
    described = [i for i in range(len(jobs)) if texts.get(i)]
    controls = result.control.records if result.control else [None] * len(jobs)
    shown = max(described, key=lambda i: areas[i]) if described else None  # the first of equals wins
    chunks: dict[str, str] = {}
    if shown is not None:
        job = jobs[shown]
        chunks[PARAMETERS_CHUNK] = with_params(texts[shown] or "", {
            "Alien Filters job": job.index + 1, "Alien Filters jobs": len(jobs), "Alien Filters rule": job.rule})
    record: dict[str, Any] = {
        "format": JOBS_FORMAT,
        "parameters_job": None if shown is None else jobs[shown].index,
        "jobs": [{
            "index": job.index,
            "rule": job.rule,
            "classes": list(job.classes),
            "prompt": job.prompt,
            "negative_prompt": job.negative_prompt,
            "seed": job.seed,
            "settings": job.settings.to_dict(),
            "box": list(job.box),
            "area": round(area, 6),
            **({"control": controls[i]} if controls[i] else {}),
            "infotext": texts.get(i),
        } for i, (job, area) in enumerate(zip(jobs, areas, strict=True))],
        **({"finish": {"infotext": result.finish.get("infotext")}} if result.finish and result.finish["applied"]
           else {}),
    }
    chunks[JOBS_CHUNK] = json.dumps(record, ensure_ascii=False)
    return chunks
