"""Preview sheet: original | masks coloured by class with labels | result (or the plan on a dry run)."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from ..core import masks
from ..core.pipeline import ImageResult

PANEL_HEIGHT = 384
PANEL_MAX_WIDTH = 768
CAPTION = 22


def render_preview(original: Image.Image, result: ImageResult) -> Image.Image:
    """A three-panel RGB sheet, each panel fitted into PANEL_MAX_WIDTH x PANEL_HEIGHT, labelled."""
    working = result.working
    overlay, colours = masks.colorize(result.masks, working.size)
    masked = Image.alpha_composite(working.convert("RGBA"), overlay).convert("RGB")
    _label_classes(masked, result, colours)
    right = result.final if result.final is not None else _plan_panel(working, result)
    titles = ["original", "masks", "result" if result.final is not None else "plan (dry run)"]
    panels = [_fit(original), _fit(masked), _fit(right)]
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
