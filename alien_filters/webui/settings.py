"""Our Settings section (Settings > Alien Filters) and typed access to its values."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from modules import paths_internal, sd_samplers, sd_schedulers, shared

from .paths import parse_roots

SECTION = ("alien_filters", "Alien Filters")
PREFIX = "alien_filters_"
DEVICES = ["auto", "cuda", "cpu", "mps"]
RESTORERS = ("alien-swinir", "webui-swinir")
"""Restorers inside the WebUI; the first is the default: on the same 352x256 photo on 2 CPU cores our SwinIR-M x2
took about 70 s, the WebUI's SwinIR (SwinIR-L x4 on A1111 and on Forge, even for a 2x step) 103-128 s on A1111's
stack and 457 s inside Forge (README, Performance)."""


def default_output_dir() -> str:
    return os.path.join(paths_internal.default_output_dir, "alien-filters")


def defaults() -> dict[str, object]:
    """Setting key (without prefix) -> default value."""
    data = paths_internal.data_path
    return {
        "models_dir": os.path.join(paths_internal.models_path, "alien-filters"),
        "default_theme": "alien",
        "themes_dir": os.path.join(data, "alien-filters", "themes"),
        "output_dir": default_output_dir(),
        "allowed_roots": "\n".join([paths_internal.default_output_dir, os.path.join(data, "alien-filters", "inputs")]),
        "device": "auto",
        "offload": True,
        "save_previews": True,
        "save_masks": False,
        "sampler": "DPM++ 2M",
        "scheduler": "Automatic",
        "restorer": RESTORERS[0],
        "swinir_model": "",
        "max_request_mb": 64,
    }


def _sampler_choices() -> dict:
    return {"choices": sd_samplers.visible_sampler_names()}


def _scheduler_choices() -> dict:
    return {"choices": [s.label for s in sd_schedulers.schedulers]}


def _theme_choices() -> dict:
    from ..themes import load_catalog

    return {"choices": sorted(load_catalog(Path(current().themes_dir)).themes)}


def option_infos() -> dict[str, shared.OptionInfo]:
    """Every option we add, keyed with our prefix (gradio components given where a type is not inferred)."""
    d = defaults()
    opts = {
        "models_dir": shared.OptionInfo(d["models_dir"], "Models folder (detection, segmentation, SwinIR weights)"),
        "default_theme": shared.OptionInfo(d["default_theme"], "Default theme", gr.Dropdown, _theme_choices),
        "themes_dir": shared.OptionInfo(d["themes_dir"], "Your themes folder (YAML files; 'save as' writes here)"),
        "output_dir": shared.OptionInfo(d["output_dir"], "Output folder"),
        "allowed_roots": shared.OptionInfo(
            d["allowed_roots"], "Allowed roots for server folders (one per line)", gr.Textbox, {"lines": 3},
        ).info("the tab and the API read and write server folders only inside these"),
        "device": shared.OptionInfo(d["device"], "Device for Alien Filters' own models", gr.Radio,
                                    {"choices": DEVICES}),
        "offload": shared.OptionInfo(d["offload"], "Offload detection and segmentation models before inpainting"),
        "save_previews": shared.OptionInfo(d["save_previews"], "Save a preview sheet next to each result"),
        "save_masks": shared.OptionInfo(d["save_masks"], "Save the coloured class masks next to each result"),
        "sampler": shared.OptionInfo(d["sampler"], "Inpainting sampler", gr.Dropdown, _sampler_choices),
        "scheduler": shared.OptionInfo(d["scheduler"], "Inpainting schedule type", gr.Dropdown, _scheduler_choices),
        "restorer": shared.OptionInfo(d["restorer"], "Restore with", gr.Radio, {"choices": list(RESTORERS)}).info(
            "alien-swinir: our SwinIR-M, x2 when 2x reaches the working size (about 70 s a photo on 2 CPU cores); "
            "webui-swinir: the WebUI's SwinIR, whose model is SwinIR-L x4 (Forge: 457 s on the same photo)"),
        "swinir_model": shared.OptionInfo(d["swinir_model"], "SwinIR model of the WebUI to restore with (empty: any)"),
        "max_request_mb": shared.OptionInfo(d["max_request_mb"], "Largest /alien/process request body (MB)"),
    }
    return {PREFIX + key: info for key, info in opts.items()}


def on_ui_settings() -> None:
    """The on_ui_settings callback: registers our options in their own section."""
    for key, info in shared.options_section(SECTION, option_infos()).items():
        shared.opts.add_option(key, info)


@dataclass(frozen=True)
class AlienSettings:
    """A snapshot of our settings (defaults where the WebUI has not registered them yet)."""

    models_dir: str
    default_theme: str
    themes_dir: str
    output_dir: str
    allowed_roots: str
    device: str
    offload: bool
    save_previews: bool
    save_masks: bool
    sampler: str
    scheduler: str
    restorer: str
    swinir_model: str
    max_request_mb: int

    def roots(self) -> list[Path]:
        """Allowed roots, the output folder always among them."""
        roots = parse_roots(self.allowed_roots)
        out = Path(self.output_dir)
        return roots if any(out == r or r in out.parents for r in roots) else [*roots, out]

    @property
    def max_request_bytes(self) -> int:
        return max(1, int(self.max_request_mb)) * 1024 * 1024


def current() -> AlienSettings:
    """The settings as they are now in ``shared.opts``."""
    values = {key: getattr(shared.opts, PREFIX + key, default) for key, default in defaults().items()}
    values["max_request_mb"] = int(values["max_request_mb"])
    return AlienSettings(**values)
