"""check-theme's warnings about structure guidance that loads but is likely a mistake."""

from __future__ import annotations

from alien_filters.core.control import model_stem
from alien_filters.themes.lint import check_theme
from alien_filters.themes.parsing import parse_theme


def _warnings(text: str) -> list[str]:
    return [w for w in check_theme(parse_theme(text))[0] if "vocabulary" not in w]


def test_a_model_of_another_kind_an_unknown_name_and_a_strong_finish_are_named():
    warnings = _warnings("""\
name: t
control: {kind: canny, model: control_v11f1p_sd15_depth}
finish: {denoising_strength: 0.7, use_control: true}
rules:
  - {classes: [bed], prompt: x}
  - {classes: [wall], prompt: y, control: {kind: depth, model: my_depth}}
""")
    assert warnings == [
        "theme 't' (<inline>): rule 'bed', finish: control kind canny with model 'control_v11f1p_sd15_depth', which "
        "looks trained on depth images: the model gets canny images it does not understand",
        "theme 't' (<inline>): rule 'wall': ControlNet model 'my_depth' is not in the model registry: the stand-alone "
        "inpainter needs a path to a diffusers folder here; inside the WebUI the ControlNet extension looks it up "
        "among its models",
        "theme 't' (<inline>): finish.denoising_strength 0.7 repaints the whole image past light and colour (above "
        "0.5 it can undo what the rules made); 0.2-0.4 is the usual range",
    ]


def test_registry_names_webui_names_and_folders_pass():
    assert _warnings("""\
name: t
finish: {denoising_strength: 0.3}
rules:
  - {classes: [bed], prompt: x, control: {kind: canny, model: "control_v11p_sd15_canny [d14c016b]"}}
  - {classes: [wall], prompt: y, control: {kind: depth, model: /models/my-depth-controlnet}}
  - {classes: [floor], prompt: z, control: {kind: depth}}
""") == []
    assert model_stem("control_v11p_sd15_canny [d14c016b]") == "control_v11p_sd15_canny"
    assert model_stem("my [odd] name") == "my [odd] name"


def test_the_alien_theme_has_no_guidance_warnings():
    from alien_filters.themes.catalog import get_theme

    assert not [w for w in check_theme(get_theme("alien"))[0] if "control" in w.lower() or "finish" in w]
