"""Our Settings section: registered in its own section, buildable by the WebUI, read back typed."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from modules import paths_internal, shared

from alien_filters.webui import settings


def test_every_option_registered_with_a_tuple_section():
    settings.on_ui_settings()
    keys = [k for k in shared.opts.data_labels if k.startswith(settings.PREFIX)]
    assert sorted(keys) == sorted(settings.PREFIX + k for k in settings.defaults())
    for key in keys:
        info = shared.opts.data_labels[key]
        assert info.section == settings.SECTION and info.label
        assert info.component is not None or type(info.default) in (str, int, bool), key


def test_components_build_like_the_webuis_settings_page():
    """modules/ui_settings.create_setting_component: component(label=, value=, elem_id=, **component_args)."""
    settings.on_ui_settings()
    with gr.Blocks():
        for key, info in shared.opts.data_labels.items():
            if not key.startswith(settings.PREFIX):
                continue
            args = info.component_args() if callable(info.component_args) else info.component_args
            comp = info.component or {str: gr.Textbox, int: gr.Number, bool: gr.Checkbox}[type(info.default)]
            built = comp(label=info.label, value=getattr(shared.opts, key), elem_id=f"setting_{key}", **(args or {}))
            assert built is not None
    choices = settings._theme_choices()["choices"]
    assert "alien" in choices
    assert "Euler a" in settings._sampler_choices()["choices"]


def test_current_reads_values_and_defaults():
    before = settings.current()
    assert before.output_dir == str(Path(paths_internal.default_output_dir) / "alien-filters")
    settings.on_ui_settings()
    shared.opts.set("alien_filters_max_request_mb", 2)
    shared.opts.set("alien_filters_allowed_roots", "/srv/photos")
    now = settings.current()
    assert now.max_request_bytes == 2 * 1024 * 1024
    assert now.roots() == [Path("/srv/photos"), Path(now.output_dir)]
