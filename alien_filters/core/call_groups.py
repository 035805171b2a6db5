"""Which inpaint jobs share a diffusion call: regional merges under the detail rule D, and batches of equal calls.

Today's rule gives every job its own "only masked" crop, resized so its long side is the model's side (512 for
SD1.5): the job's **scale** is model pixels per working-image pixel. A regional call renders several jobs in one
crop over the union of their boxes, each job's prompt restricted to its own mask (see
``stages/regional_attention.py``). The rule that keeps small objects detailed: a job is never rendered at less than
``D`` x its own crop's scale (``D`` is the job's ``regional_min_scale`` setting). A merged call therefore runs at
the larger of today's scale for the union box and every member's ``D`` x own scale, and two calls are merged only
when the merged call costs less diffusion work (latent pixels x denoising steps) than the two apart; a small
object next to a large one would force the large one up to its scale, which costs more, so it keeps its own crop.
Only jobs whose diffusion runs the same schedule (steps, denoising steps actually run, CFG scale) and share a
negative prompt can share a call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from PIL import Image

from .compositing import Box, clamp_box, model_size
from .contracts import InpaintJob

LATENT_FACTOR = 8
"""Image pixels per latent pixel side (Stable Diffusion's VAE)."""
MAX_SIDE_FACTOR = 2.0
"""A merged call's long side is at most this many times the model's side (1024 px for SD1.5)."""


def denoise_steps(steps: int, strength: float) -> int:
    """Steps the sampler actually runs for ``steps`` at denoising ``strength`` (diffusers' img2img/inpaint rule:
    it starts at step ``steps - min(int(steps * strength), steps)``)."""
    return min(int(steps * strength), steps)


def schedule_key(job: InpaintJob) -> tuple[Any, ...]:
    """Jobs with equal keys run the same diffusion schedule and can share a call: steps, the steps run (the
    start timestep follows from them), full strength or not (pure noise or the noised image), CFG scale, and the
    negative prompt (one for the whole call)."""
    s = job.settings
    control = getattr(job, "control", None)  # a job with a control image keeps its own call
    return (int(s.steps), denoise_steps(int(s.steps), float(s.denoising_strength)), float(s.denoising_strength) >= 1,
            float(s.cfg_scale), job.negative_prompt, None if control is None else job.index)


@dataclass(frozen=True)
class InpaintCall:
    """One diffusion call: the jobs it renders (plan order), its crop box in the working image and model size."""

    jobs: tuple[InpaintJob, ...]
    box: Box
    size: tuple[int, int]
    """(width, height) the crop is rendered at; multiples of 8."""

    @property
    def seed(self) -> int:
        """The call's seed: its first job's (a one-job call is exactly today's call)."""
        return self.jobs[0].seed

    @property
    def scale(self) -> float:
        """Model pixels per working-image pixel (the smaller of the two axes)."""
        x0, y0, x1, y1 = self.box
        return min(self.size[0] / (x1 - x0), self.size[1] / (y1 - y0))

    def work(self) -> int:
        """Latent pixels x denoising steps run."""
        s = self.jobs[0].settings
        return (self.size[0] // LATENT_FACTOR) * (self.size[1] // LATENT_FACTOR) * \
            denoise_steps(int(s.steps), float(s.denoising_strength))

    def to_dict(self) -> dict[str, Any]:
        return {"jobs": [job.index for job in self.jobs], "rules": [job.rule for job in self.jobs],
                "box": list(self.box), "size": list(self.size), "scale": round(self.scale, 4), "seed": self.seed}


def own_call(job: InpaintJob, image_size: tuple[int, int], side: int) -> InpaintCall:
    """Today's call for ``job``: its clamped box at the model size (long side ``side``)."""
    box = clamp_box(job.box, *image_size)
    return InpaintCall((job,), box, model_size(box[2] - box[0], box[3] - box[1], LATENT_FACTOR, side))


def merged_call(calls: Sequence[InpaintCall], image_size: tuple[int, int], side: int,
                own_scales: dict[int, float]) -> InpaintCall | None:
    """One call rendering every job of ``calls`` over the union of their boxes, at the smallest scale that keeps
    each job at ``regional_min_scale`` x its own scale (and at least today's scale for the union box); None when
    that would exceed the largest call (:data:`MAX_SIDE_FACTOR` x ``side``)."""
    jobs = tuple(sorted((job for call in calls for job in call.jobs), key=lambda j: j.index))
    box = (min(c.box[0] for c in calls), min(c.box[1] for c in calls),
           max(c.box[2] for c in calls), max(c.box[3] for c in calls))
    width, height = box[2] - box[0], box[3] - box[1]
    standard = model_size(width, height, LATENT_FACTOR, side)
    needed = max(float(job.settings.regional_min_scale) * own_scales[job.index] for job in jobs)
    size = (max(standard[0], _ceil_to(width * needed)), max(standard[1], _ceil_to(height * needed)))
    if max(size) > MAX_SIDE_FACTOR * side:
        return None
    return InpaintCall(jobs, box, size)


def group_calls(jobs: Sequence[InpaintJob], image_size: tuple[int, int], side: int,
                regional: bool) -> list[InpaintCall]:
    """The calls for an image's ``jobs``: one per job (``regional`` off), or greedy merges, each time the pair of
    compatible calls whose merge saves the most work, until no merge saves any. Ordered by first job."""
    calls = [own_call(job, image_size, side) for job in jobs]
    if not regional:
        return calls
    own_scales = {call.jobs[0].index: call.scale for call in calls}
    while True:
        best: tuple[int, int, int, InpaintCall] | None = None
        for i, a in enumerate(calls):
            for j in range(i + 1, len(calls)):
                b = calls[j]
                if schedule_key(a.jobs[0]) != schedule_key(b.jobs[0]):
                    continue
                merged = merged_call((a, b), image_size, side, own_scales)
                if merged is None:
                    continue
                saving = a.work() + b.work() - merged.work()
                if saving > 0 and (best is None or saving > best[0]):
                    best = (saving, i, j, merged)
        if best is None:
            return calls
        _, i, j, merged = best
        calls = [c for k, c in enumerate(calls) if k not in (i, j)] + [merged]
        calls.sort(key=lambda c: c.jobs[0].index)


def batches(calls: Sequence[InpaintCall], batch_size: int) -> list[list[InpaintCall]]:
    """``calls`` in batches of at most ``batch_size`` calls of the same size and schedule (one pipeline call
    each), ordered by their first call."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    open_batches: dict[tuple[Any, ...], list[InpaintCall]] = {}
    out: list[list[InpaintCall]] = []
    for call in calls:
        key = (call.size, schedule_key(call.jobs[0]))
        batch = open_batches.get(key)
        if batch is None or len(batch) >= batch_size:
            batch = open_batches[key] = []
            out.append(batch)
        batch.append(call)
    return out


def work_vs_full_pass(calls: Sequence[InpaintCall], image_size: tuple[int, int]) -> float:
    """The calls' diffusion work in full-image equivalents: their latent pixels x steps run over one call on the
    whole working image with the steps of the calls' longest schedule."""
    if not calls:
        return 0.0
    steps = max(denoise_steps(int(c.jobs[0].settings.steps), float(c.jobs[0].settings.denoising_strength))
                for c in calls)
    full = (image_size[0] // LATENT_FACTOR) * (image_size[1] // LATENT_FACTOR) * steps
    return sum(c.work() for c in calls) / full


def _ceil_to(value: float, multiple: int = LATENT_FACTOR) -> int:
    return max(multiple, int(math.ceil(value / multiple - 1e-9)) * multiple)


@runtime_checkable
class CallInpainter(Protocol):
    """An inpainter that runs planned calls (regional, batched) itself; the pipeline plans them with
    :func:`group_calls` at the inpainter's model size."""

    def model_size(self) -> int:
        """The model's side in pixels (512 for SD1.5)."""
        ...

    def default_batch_size(self) -> int:
        ...

    def inpaint_calls(self, image: Image.Image, calls: Sequence[InpaintCall], batch_size: int,
                      before_batch: Callable[[Sequence[InpaintCall]], None],
                      ) -> tuple[Image.Image, dict[int, str | None]]:
        """The image with every call's jobs inpainted, and each job's infotext by job index."""
        ...


def inpaint_in_calls(inpainter: CallInpainter, working: Image.Image, jobs: Sequence[InpaintJob], regional: bool,
                     batch_size: int, before_job: Callable[[InpaintJob], None],
                     ) -> tuple[Image.Image, list[str | None], dict[str, Any]]:
    """``jobs`` grouped into calls (:func:`group_calls`) and run by ``inpainter`` in batches of ``batch_size`` (0:
    its default); ``before_job`` runs for each job as its batch starts (interrupt check, progress). The image, each
    job's infotext in ``jobs`` order, and the record of the calls for the manifest."""
    batch_size = batch_size or (inpainter.default_batch_size() if jobs else 1)
    calls = group_calls(jobs, working.size, inpainter.model_size(), regional) if jobs else []

    def before_batch(batch: Sequence[InpaintCall]) -> None:
        for call in batch:
            for job in call.jobs:
                before_job(job)

    image, by_index = inpainter.inpaint_calls(working, calls, batch_size, before_batch) if calls else (working, {})
    if image.size != working.size:
        raise ValueError(f"inpainter returned {image.size}, expected {working.size}")
    record = {"regional": regional, "batch_size": batch_size, "calls": [call.to_dict() for call in calls],
              "work_vs_full_pass": round(work_vs_full_pass(calls, working.size), 4)}
    return image.convert("RGB"), [by_index.get(job.index) for job in jobs], record
