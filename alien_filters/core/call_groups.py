"""Which inpaint jobs share a diffusion call: regional merges under the detail rule D, and batches of equal calls.

Today's rule gives every job its own "only masked" crop, resized so its long side is the model's side (512 for
SD1.5): the job's **scale** is model pixels per working-image pixel. A regional call renders several jobs in one
crop over the union of their boxes, each job's prompt restricted to its own mask (see
``stages/regional_attention.py``). The rule that keeps small objects detailed: a job is never rendered at less than
``D`` x its own crop's scale (``D`` is the job's ``regional_min_scale`` setting). A merged call therefore runs at
the larger of today's scale for the union box and every member's ``D`` x own scale, and two calls are merged only
when the merged call costs less diffusion work (latent pixels x denoising steps) than the two apart; a small
object next to a large one would force the large one up to its scale, which costs more, so it keeps its own crop.
Jobs with the same steps and CFG scale can share a call; each region keeps its own prompt, negative prompt and
denoising strength (a region of lower strength starts later, see ``stages/staggered_start.py``). A call runs at most
one ControlNet unit: jobs with the same unit and jobs without one can share it, the unit acting outside the masks of
the jobs without it (``stages/regional_control.py``). The partition of an
image's jobs into calls is the one of least work: exact for up to :data:`EXACT_JOBS` jobs, greedy pairwise merges
beyond.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from PIL import Image

from .compositing import Box, clamp_box, model_size
from .contracts import InpaintJob

LATENT_FACTOR = 8
"""Image pixels per latent pixel side (Stable Diffusion's VAE)."""
MAX_SIDE_FACTOR = 2.0
"""A merged call's long side is at most this many times the model's side (1024 px for SD1.5)."""
EXACT_JOBS = 10
"""Up to this many jobs (of one schedule) the least-work partition is searched exactly (3^n subset pairs)."""


def denoise_steps(steps: int, strength: float) -> int:
    """Steps the sampler actually runs for ``steps`` at denoising ``strength`` (diffusers' img2img/inpaint rule:
    it starts at step ``steps - min(int(steps * strength), steps)``)."""
    return min(int(steps * strength), steps)


def schedule_key(job: InpaintJob) -> tuple[Any, ...]:
    """Jobs with equal keys can share a call: the same steps and CFG scale (their strengths may differ)."""
    s = job.settings
    return int(s.steps), float(s.cfg_scale)


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
    def strength(self) -> float:
        """The call's denoising strength: its strongest job's (the others start later)."""
        return max(float(job.settings.denoising_strength) for job in self.jobs)

    @property
    def steps_run(self) -> int:
        """Denoising steps the call runs: its strongest job's."""
        return denoise_steps(int(self.jobs[0].settings.steps), self.strength)

    @property
    def scale(self) -> float:
        """Model pixels per working-image pixel (the smaller of the two axes)."""
        x0, y0, x1, y1 = self.box
        return min(self.size[0] / (x1 - x0), self.size[1] / (y1 - y0))

    def work(self) -> int:
        """Latent pixels x denoising steps run."""
        return (self.size[0] // LATENT_FACTOR) * (self.size[1] // LATENT_FACTOR) * self.steps_run

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
    that would exceed the largest call (:data:`MAX_SIDE_FACTOR` x ``side``) or hold two different ControlNet
    units."""
    jobs = tuple(sorted((job for call in calls for job in call.jobs), key=lambda j: j.index))
    if len({job.control for job in jobs if job.control is not None}) > 1:
        return None  # a call runs one ControlNet unit
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
    """The calls for an image's ``jobs``: one per job (``regional`` off), or the partition of each schedule's jobs
    into merged calls that costs the least work. Ordered by first job."""
    calls = [own_call(job, image_size, side) for job in jobs]
    if not regional:
        return calls
    own_scales = {call.jobs[0].index: call.scale for call in calls}
    by_key: dict[tuple[Any, ...], list[InpaintCall]] = {}
    for call in calls:
        by_key.setdefault(schedule_key(call.jobs[0]), []).append(call)
    out: list[InpaintCall] = []
    for group in by_key.values():
        search = _least_work if len(group) <= EXACT_JOBS else _greedy
        out += search(group, image_size, side, own_scales)
    return sorted(out, key=lambda c: c.jobs[0].index)


def _least_work(calls: list[InpaintCall], image_size: tuple[int, int], side: int,
                own_scales: dict[int, float]) -> list[InpaintCall]:
    """The partition of ``calls`` into merged calls of least total work (every subset's merged call, then the
    best partition by dynamic programming over subsets)."""
    n = len(calls)
    merged: dict[int, InpaintCall | None] = {}
    for subset in range(1, 1 << n):
        members = [calls[i] for i in range(n) if subset >> i & 1]
        merged[subset] = members[0] if len(members) == 1 else merged_call(members, image_size, side, own_scales)
    best: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
    for rest in range(1, 1 << n):
        lowest = rest & -rest  # the subset holding the lowest member comes first: each partition counted once
        choice: tuple[float, tuple[int, ...]] = (math.inf, ())
        subset = rest
        while subset:
            call = merged[subset]
            if subset & lowest and call is not None:
                work = call.work() + best[rest & ~subset][0]
                if work < choice[0]:
                    choice = (work, (subset, *best[rest & ~subset][1]))
            subset = (subset - 1) & rest
        best[rest] = choice
    return [merged[subset] for subset in best[(1 << n) - 1][1]]  # type: ignore[misc]


def _greedy(calls: list[InpaintCall], image_size: tuple[int, int], side: int,
            own_scales: dict[int, float]) -> list[InpaintCall]:
    """Repeatedly merge the pair of calls whose merge saves the most work, until no merge saves any."""
    calls = list(calls)
    while True:
        best: tuple[int, int, int, InpaintCall] | None = None
        for i, a in enumerate(calls):
            for j in range(i + 1, len(calls)):
                merged = merged_call((a, calls[j]), image_size, side, own_scales)
                if merged is None:
                    continue
                saving = a.work() + calls[j].work() - merged.work()
                if saving > 0 and (best is None or saving > best[0]):
                    best = (saving, i, j, merged)
        if best is None:
            return calls
        _, i, j, merged = best
        calls = [c for k, c in enumerate(calls) if k not in (i, j)] + [merged]


def batch_key(call: InpaintCall) -> tuple[Any, ...]:
    """Calls with equal keys can run as one pipeline batch: the same model size, schedule and steps run, and no
    ControlNet unit (a call with one runs alone)."""
    unit = call.jobs[0].index if _has_unit([call]) else None
    return call.size, schedule_key(call.jobs[0]), call.steps_run, call.strength >= 1.0, unit


def batches(calls: Sequence[InpaintCall], batch_size: int) -> list[list[InpaintCall]]:
    """``calls`` in batches of at most ``batch_size`` calls of the same size and schedule (one pipeline call
    each), ordered by their first call."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    open_batches: dict[tuple[Any, ...], list[InpaintCall]] = {}
    out: list[list[InpaintCall]] = []
    for call in calls:
        key = batch_key(call)
        batch = open_batches.get(key)
        if batch is None or len(batch) >= batch_size:
            batch = open_batches[key] = []
            out.append(batch)
        batch.append(call)
    return out


ImageCall = tuple[int, InpaintCall]
"""A call and the number of its image among the images handed over together."""


def image_batches(calls_per_image: Sequence[Sequence[InpaintCall]], batch_size: int) -> list[list[ImageCall]]:
    """Pipeline batches for several images' calls. Each image keeps its own :func:`batches`, in its order (a
    batch reads the image as the image's earlier batches left it); a batch of one image takes along the next
    batches of later images with the same :func:`batch_key` while the total stays within ``batch_size``. So every
    image gets exactly the calls, seeds and image states it gets alone, and its results equal those of a run
    alone up to float rounding. Calls with a ControlNet unit are never batched with others."""
    queues = [deque(batches(calls, batch_size)) for calls in calls_per_image]
    out: list[list[ImageCall]] = []
    while any(queues):
        first = next(number for number, queue in enumerate(queues) if queue)
        head = queues[first].popleft()
        batch = [(first, call) for call in head]
        if not _has_unit(head):  # a unit call's key names its job index, unique within its own image only
            for number in range(first + 1, len(queues)):
                queue = queues[number]
                if queue and batch_key(queue[0][0]) == batch_key(head[0]) and len(batch) + len(queue[0]) <= batch_size:
                    batch += [(number, call) for call in queue.popleft()]
        out.append(batch)
    return out


def _has_unit(calls: Sequence[InpaintCall]) -> bool:
    return any(job.control is not None for call in calls for job in call.jobs)


def work_vs_full_pass(calls: Sequence[InpaintCall], image_size: tuple[int, int]) -> float:
    """The calls' diffusion work in full-image equivalents: their latent pixels x steps run over one call on the
    whole working image with the steps of the calls' longest schedule."""
    if not calls:
        return 0.0
    steps = max(c.steps_run for c in calls)
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

    def inpaint_images(self, images: Sequence[Image.Image], calls: Sequence[Sequence[InpaintCall]], batch_size: int,
                       before_batch: Callable[[Sequence[ImageCall]], None],
                       ) -> list[tuple[Image.Image, dict[int, str | None]]]:
        """Per image (``calls[i]`` are ``images[i]``'s), the image with every call's jobs inpainted and each job's
        infotext by job index; batches as :func:`image_batches` forms them."""
        ...


@dataclass(frozen=True)
class InpaintedImage:
    """One image's result from :func:`inpaint_in_calls`."""

    image: Image.Image
    infotexts: list[str | None]
    """Per job, in the order the jobs were given."""
    record: dict[str, Any]
    """How the jobs were grouped into calls, for the manifest."""
    work: int
    """Its calls' diffusion work (latent pixels x steps run), by which images inpainted together share out their
    time (an inpainter that makes one call per job gives its job count)."""


def inpaint_in_calls(inpainter: CallInpainter, workings: Sequence[Image.Image],
                     jobs_per_image: Sequence[Sequence[InpaintJob]], regional: bool, batch_size: int,
                     before_job: Callable[[int, InpaintJob], None]) -> list[InpaintedImage]:
    """Each image's jobs grouped into calls (:func:`group_calls`) and run by ``inpainter`` in batches of at most
    ``batch_size`` calls (0: its default), across the images where calls match (:func:`image_batches`);
    ``before_job`` runs with the image's number for each job as its batch starts (interrupt check, progress)."""
    busy = any(jobs_per_image)
    batch_size = batch_size or (inpainter.default_batch_size() if busy else 1)
    side = inpainter.model_size() if busy else 0
    calls = [group_calls(jobs, working.size, side, regional) if jobs else []
             for working, jobs in zip(workings, jobs_per_image, strict=True)]

    def before_batch(batch: Sequence[ImageCall]) -> None:
        for number, call in batch:
            for job in call.jobs:
                before_job(number, job)

    done = inpainter.inpaint_images(workings, calls, batch_size, before_batch) if busy \
        else [(working, {}) for working in workings]
    out = []
    for working, jobs, own, (image, by_index) in zip(workings, jobs_per_image, calls, done, strict=True):
        if image.size != working.size:
            raise ValueError(f"inpainter returned {image.size}, expected {working.size}")
        record = {"regional": regional, "batch_size": batch_size, "images_together": len(workings),
                  "calls": [call.to_dict() for call in own],
                  "work_vs_full_pass": round(work_vs_full_pass(own, working.size), 4)}
        out.append(InpaintedImage(image.convert("RGB"), [by_index.get(job.index) for job in jobs], record,
                                  sum(call.work() for call in own)))
    return out
