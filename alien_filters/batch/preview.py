"""Preview sheet: original | masks coloured by class with labels | control images (when structure guidance ran) |
result (or the plan on a dry run)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..core import masks
from ..core.pipeline import ImageResult

PANEL_HEIGHT = 384
PANEL_MAX_WIDTH = 768
CAPTION = 22


def render_preview(original: Image.Image, result: ImageResult) -> Image.Image:
    """A three-panel RGB sheet (four with control images), each panel fitted into PANEL_MAX_WIDTH x PANEL_HEIGHT,
    labelled."""
    working = result.working
    overlay, colours = masks.colorize(result.masks, working.size)
    masked = Image.alpha_composite(working.convert("RGBA"), overlay).convert("RGB")
    _label_classes(masked, result, colours)
    right = result.final if result.final is not None else _plan_panel(working, result)
    titles = ["original", "masks", "result" if result.final is not None else "plan (dry run)"]
    panels = [_fit(original), _fit(masked), _fit(right)]
    control = _control_panel(result)
    if control is not None:
        titles.insert(2, "control (ControlNet units)")
        panels.insert(2, _fit(control))
    sheet = Image.new("RGB", (sum(p.width for p in panels), PANEL_HEIGHT + CAPTION), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    x = 0
    for title, panel in zip(titles, panels, strict=True):
        sheet.paste(panel, (x, CAPTION))
        draw.text((x + 6, 5), title, fill="black", font=font)
        x += panel.width
    return sheet


def _fit(image: Image.Image) -> Image.Image:
    """Scaled to fit the panel box, aspect ratio kept (a 20000x20 strip stays a strip, not 384000 px wide)."""
    scale = min(PANEL_HEIGHT / image.height, PANEL_MAX_WIDTH / image.width)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.convert("RGB").resize(size, Image.BILINEAR)


def _label_classes(image: Image.Image, result: ImageResult, colours: dict[str, tuple[int, int, int]]) -> None:
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for label, mask in result.masks.items():
        box = masks.bounding_box(mask)
        if box is None:
            continue
        x, y = box[0] + 3, box[1] + 3
        text_box = draw.textbbox((x, y), label, font=font)
        draw.rectangle(text_box, fill=colours.get(label, (0, 0, 0)))
        draw.text((x, y), label, fill="white", font=font)


def _plan_panel(working: Image.Image, result: ImageResult) -> Image.Image:
    panel = working.convert("RGB").copy()
    draw = ImageDraw.Draw(panel)
    font = ImageFont.load_default()
    for job in result.plan.jobs:
        draw.rectangle(job.box, outline=(0, 255, 120), width=2)
        draw.text((job.box[0] + 3, job.box[1] + 3), f"{job.index + 1}. {job.rule}", fill=(0, 255, 120), font=font)
    return panel


def _control_panel(result: ImageResult) -> Image.Image | None:
    """Each guided job's control image inside its mask over a darkened working image, its box outlined and
    labelled with the unit (kind, model, weight); None when no unit ran."""
    run = result.control
    if run is None or not run.images:
        return None
    base = np.asarray(result.working.convert("RGB")).astype(np.float32) * 0.25
    for job in result.plan.jobs:
        control = run.images.get(job.index)
        if control is not None:
            base[job.mask] = np.asarray(control.convert("RGB"))[job.mask]
    panel = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(panel)
    font = ImageFont.load_default()
    for job, record in zip(result.plan.jobs, run.records, strict=True):
        if record is None:
            continue
        colour = (0, 255, 120) if record["applied"] else (255, 80, 80)
        unit = f"{record['kind']} {record['model']} w{record['weight']:g}" if record["applied"] else "no control"
        draw.rectangle(job.box, outline=colour, width=2)
        draw.text((job.box[0] + 3, job.box[1] + 3), f"{job.index + 1}. {job.rule}: {unit}", fill=colour, font=font)
    return panel
