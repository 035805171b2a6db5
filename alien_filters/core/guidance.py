"""Structure guidance and the finishing pass inside one image's inpaint stage.

Control images are made ONCE per image (per preprocessor setting) from the restored working image, before any
job repaints it, and shared by every job that asks for that kind; each inpainter crops them with the box it crops
the image with. A unit the inpainter cannot run (no ControlNet extension or model, no depth preprocessor) is
dropped from its job, which then runs without guidance; the record says so, never a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from PIL import Image

from .contracts import ControlImager, ControlInpainter, Finisher, FinishJob, Inpainter, InpaintJob, Tags
from .control import ControlSpec, control_record
from .edges import canny_image
from .placeholders import fill_caption
from .planning import derive_seed
from .theme import Theme


class CannyImager:
    """The control imager with no model: canny only (see core.edges); depth needs a model-backed imager."""

    name = "canny"

    def control_image(self, image: Image.Image, spec: ControlSpec) -> Image.Image:
        if spec.kind != "canny":
            raise ValueError(f"the {self.name} control imager makes no {spec.kind} images")
        return canny_image(image, spec.canny_low, spec.canny_high)


def unavailable(spec: ControlSpec, inpainter: Inpainter | None, imager: ControlImager | None) -> str | None:
    """Why ``spec`` cannot run in this run (None when it can)."""
    if not isinstance(inpainter, ControlInpainter):
        return f"inpainter {getattr(inpainter, 'name', None)} does not take ControlNet units"
    if imager is None and spec.kind != "canny":
        return f"no {spec.kind} preprocessor in this run"
    imager_check = getattr(imager, "unavailable", None)  # optional: an imager whose model may be missing
    return (imager_check(spec) if imager_check else None) or inpainter.control_unavailable(spec)


@dataclass
class ControlRun:
    """What structure guidance did for one image's jobs."""

    jobs: list[InpaintJob]
    """The plan's jobs, with their control image, or without their unit where it cannot run."""
    records: list[dict[str, Any] | None]
    """Per job: the unit, whether it ran, and why not (None for a job without control)."""
    images: dict[int, Image.Image] = field(default_factory=dict)
    """Job index -> the whole-image control image it ran with (for the preview)."""
    imager: str | None = None
    notes: list[str] = field(default_factory=list)
    """Each distinct reason a unit did not run, once."""


def attach_control(working: Image.Image, jobs: Sequence[InpaintJob], inpainter: Inpainter | None,
                   imager: ControlImager | None) -> ControlRun:
    """The jobs ready to inpaint: control images made once per preprocessor setting, units that cannot run
    dropped (recorded)."""
    use = imager or CannyImager()
    cache: dict[tuple[Any, ...], Image.Image] = {}
    run = ControlRun(jobs=[], records=[])
    for job in jobs:
        if job.control is None:
            run.jobs.append(job)
            run.records.append(None)
            continue
        reason = unavailable(job.control, inpainter, imager)
        if reason is not None:
            run.jobs.append(replace(job, control=None, control_image=None))
            run.records.append(control_record(job.control, False, reason))
            if reason not in run.notes:
                run.notes.append(reason)
            continue
        key = job.control.preprocessor_key
        if key not in cache:
            cache[key] = use.control_image(working, job.control)
        run.imager = use.name
        run.jobs.append(replace(job, control_image=cache[key]))
        run.records.append(control_record(job.control, True))
        run.images[job.index] = cache[key]
    return run


def finish_job(theme: Theme, tags: Tags, seed: int, image: Image.Image, inpainter: Inpainter | None,
               imager: ControlImager | None) -> tuple[FinishJob | None, dict[str, Any]]:
    """The finishing pass for ``image`` (the restyled one) and its record; None when it cannot run."""
    spec = theme.finish
    if spec is None:
        raise ValueError(f"theme {theme.name!r} has no finish: block")
    record: dict[str, Any] = {**spec.to_dict(), "applied": False}
    if not isinstance(inpainter, Finisher):
        record["reason"] = f"inpainter {getattr(inpainter, 'name', None)} has no finishing pass"
        return None, record
    control, control_image = spec.control, None
    if control is not None:
        reason = unavailable(control, inpainter, imager)
        if reason is not None:
            record["control"] = control_record(control, False, reason)
            control = None
        else:
            control_image = (imager or CannyImager()).control_image(image, control)
            record["control"] = control_record(control, True)
    job = FinishJob(prompt=fill_caption(spec.prompt(theme.style_prompt), tags.caption),
                    negative_prompt=fill_caption(theme.negative_prompt, tags.caption),
                    spec=spec, cfg_scale=theme.defaults.cfg_scale, seed=derive_seed(seed, "finish"),
                    control=control, control_image=control_image)
    record.update(prompt=job.prompt, negative_prompt=job.negative_prompt, seed=job.seed)
    return job, record
