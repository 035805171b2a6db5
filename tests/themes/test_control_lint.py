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


def test_the_readmes_structure_guidance_examples_parse_as_described():
    import re

    from alien_filters.core.control import ControlSpec
    from tests.support.readme import code_blocks, readme_text, section

    text = section(readme_text(), "Themes")
    text = text[text.index("### Structure guidance"):]
    units, finish = code_blocks(text, "yaml")[:2]
    theme = parse_theme("name: example\n" + units)
    wall, clock = theme.rules
    assert theme.control == ControlSpec("canny", weight=0.8, guidance_end=0.8)
    assert wall.control == ControlSpec("depth", weight=0.7, guidance_end=0.8) and clock.control is None
    assert wall.control.model == "control_v11f1p_sd15_depth"
    themed = parse_theme("name: example\n" + finish + "rules:\n  - {classes: [bed], prompt: x}\n")
    assert themed.finish.denoising_strength == 0.25 and themed.finish.control == ControlSpec("canny")
    from alien_filters.core.control import CONTROL_BOUNDS, FINISH_BOUNDS

    stated = re.findall(r"^\s*(\w+): \S+ +# ([\d.]+)\.\.([\d.]+)", units + finish, re.M)
    assert len(stated) == 5
    for key, low, high in stated:  # the ranges the comments state are the specs' bounds
        bound = CONTROL_BOUNDS.get(key) or FINISH_BOUNDS[key]
        assert (float(low), float(high)) == (bound.low, bound.high), key
