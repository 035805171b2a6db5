"""Theme files: validation with file:line: field errors, rule selection, settings, hashing, catalog."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from alien_filters.core.settings import SETTING_BOUNDS, InpaintSettings
from alien_filters.core.theme import FrozenMapping, Rule, Theme, with_canonical_classes
from alien_filters.core.vocabulary import Vocabulary, load_vocabulary
from alien_filters.themes import (
    ThemeError,
    UnknownThemeError,
    builtin_themes_dir,
    get_theme,
    load_catalog,
    load_theme,
    parse_theme,
    parsing,
    theme_warnings,
    unknown_classes,
)

BUILTINS = ["alien", "cyberpunk", "winter_holiday"]
ALIEN_REQUIRED = [
    "bed", "pillow", "blanket", "nightstand", "table", "desk", "chair", "armchair", "sofa", "lamp", "ceiling light",
    "window", "curtain", "wall", "ceiling", "floor", "rug", "painting", "mirror", "television", "wardrobe", "door",
    "plant", "clock", "shelf",
]  # fmt: skip
SURFACES = {"wall", "floor", "ceiling"}

SMALL = """\
name: small
description: a test theme
style_prompt: test style
negative_prompt: ugly
defaults:
  steps: 12
  mask_grow: 3
rules:
  - name: bed-luxury
    classes: [bed]
    when_style: [luxury, Art Deco]
    prompt: a golden bed
    overrides: {denoising_strength: 0.5}
    priority: 5
  - name: bed
    classes: [bed, sofa]
    prompt: a plain bed
    negative_prompt: blurry
    min_area: 0.01
  - name: bed-rustic
    classes: [bed]
    when_style: [rustic]
    prompt: a log bed
  - classes: [ceiling light]
    prompt: a chandelier
"""


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return load_vocabulary()


@pytest.fixture(scope="module")
def small() -> Theme:
    return parse_theme(SMALL, "small.yaml")


@pytest.fixture(scope="module")
def alien() -> Theme:
    return load_theme(builtin_themes_dir() / "alien.yaml")


# ------------------------------------------------------------------------------------------- built-in themes


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_theme_loads_with_known_classes_and_no_warnings(name: str, vocab: Vocabulary) -> None:
    theme = load_theme(builtin_themes_dir() / f"{name}.yaml")
    assert theme.name == name
    assert theme.description and theme.style_prompt and theme.negative_prompt
    assert unknown_classes(theme, vocab) == []
    assert theme_warnings(theme, vocab) == []
    assert all(vocab.canonical(c) == c for c in theme.classes())  # canonical names only: rule_for matches taggers
    assert len(theme.classes()) >= 12


def test_alien_covers_the_hotel_room(alien: Theme) -> None:
    assert len(alien.classes()) >= 18
    assert set(ALIEN_REQUIRED) <= alien.classes()


def test_alien_story_lives_in_its_rules(alien: Theme) -> None:
    def prompt(cls: str) -> str:
        rule = alien.rule_for(cls, [])
        assert rule is not None
        return rule.prompt.lower()

    for cls in ("table", "desk"):
        assert "apple" in prompt(cls) and "notebook" in prompt(cls)
    for cls in ("clock", "shelf"):
        assert "pocket watch" in prompt(cls) and "time-turner" in prompt(cls)
    assert "moving portrait" in prompt("painting")
    assert "lake" in prompt("window")
    assert "floating candles" in prompt("ceiling")
    style = alien.style_prompt.lower()
    for words in ("slytherin", "dungeons", "halloween", "emerald", "silver", "lake", "candle"):
        assert words in style
    assert "tower" in alien.negative_prompt


def test_alien_priorities_and_denoising(alien: Theme, vocab: Vocabulary) -> None:
    surfaces = [r for r in alien.rules if set(r.classes) & SURFACES]
    others = [r for r in alien.rules if not set(r.classes) & SURFACES]
    assert max(r.priority for r in surfaces) < min(r.priority for r in others)
    assert alien.rule_for("ceiling", []).priority == min(r.priority for r in alien.rules)

    def priority(cls: str) -> int:
        return alien.rule_for(cls, []).priority

    assert priority("clock") > priority("table") > priority("bed") > priority("wall")
    assert priority("pillow") > priority("blanket") > priority("bed")
    assert priority("curtain") > priority("window")
    default = alien.defaults.denoising_strength
    for rule in surfaces:
        assert alien.settings_for(rule).denoising_strength < default
    conditional = [r for r in alien.rules if r.when_style]
    assert conditional and all(set(r.when_style) <= set(vocab.styles) for r in conditional)
    assert alien.rule_for("bed", ["luxury"]).name == "bed-luxury"
    assert alien.rule_for("bed", ["rustic"]).name == "bed"


# ------------------------------------------------------------------------------------------- rules and settings


def test_parsed_values(small: Theme) -> None:
    assert small.name == "small"
    assert small.source == "small.yaml"
    assert [r.name for r in small.rules] == ["bed-luxury", "bed", "bed-rustic", "ceiling light"]
    lux, plain, _, light = small.rules
    assert lux.when_style == ("luxury", "art deco")
    assert lux.overrides == {"denoising_strength": 0.5}
    assert plain.classes == ("bed", "sofa")
    assert plain.negative_prompt == "blurry"
    assert plain.min_area == 0.01 and plain.priority == 0
    assert light.classes == ("ceiling light",) and light.overrides == {}


def test_rule_for_takes_the_first_matching_rule_in_file_order(small: Theme) -> None:
    assert small.rule_for("bed", ["luxury"]).name == "bed-luxury"
    assert small.rule_for("bed", {"modern", "art deco"}).name == "bed-luxury"
    assert small.rule_for("Bed", ["LUXURY"]).name == "bed-luxury"
    assert small.rule_for("bed", []).name == "bed"
    assert small.rule_for("bed", ["modern"]).name == "bed"
    assert small.rule_for("bed", ["rustic"]).name == "bed"  # 'bed' comes first: bed-rustic never applies
    assert small.rule_for("sofa", ["luxury"]).name == "bed"
    assert small.rule_for("ceiling_light", []).name == "ceiling light"
    assert small.rule_for("floor", ["luxury"]) is None


def test_settings_for_merges_defaults_and_overrides(small: Theme) -> None:
    lux, plain, *_ = small.rules
    assert small.defaults == InpaintSettings(steps=12, mask_grow=3)
    assert small.settings_for(lux) == InpaintSettings(denoising_strength=0.5, steps=12, mask_grow=3)
    assert small.settings_for(plain) == small.defaults
    assert small.classes() == {"bed", "sofa", "ceiling light"}


def test_int_values_for_float_settings_become_floats() -> None:
    theme = parse_theme(
        "name: t\ndefaults: {denoising_strength: 1, cfg_scale: 7}\nrules: [{classes: [bed], prompt: p, min_area: 0}]"
    )
    assert isinstance(theme.defaults.denoising_strength, float) and theme.defaults.denoising_strength == 1.0
    assert isinstance(theme.defaults.cfg_scale, float)
    assert isinstance(theme.rules[0].min_area, float)


def test_rules_are_hashable_and_overrides_read_only() -> None:
    rule = Rule(name="r", classes=["bed"], prompt="p", overrides={"steps": 5}, when_style=["luxury"])
    assert rule.classes == ("bed",) and rule.when_style == ("luxury",)
    assert isinstance(rule.overrides, FrozenMapping) and dict(rule.overrides) == {"steps": 5}
    assert hash(rule) == hash(
        Rule(name="r", classes=("bed",), prompt="p", overrides={"steps": 5}, when_style=("luxury",))
    )
    with pytest.raises(TypeError):
        rule.overrides["steps"] = 6  # type: ignore[index]
    with pytest.raises(ValueError, match="unknown settings: colour"):
        Rule(name="r", classes=("bed",), prompt="p", overrides={"colour": 1})


def test_setting_limits_cover_every_inpaint_setting() -> None:
    assert set(SETTING_BOUNDS) == set(InpaintSettings.field_names())


# ------------------------------------------------------------------------------------------- hash and to_dict

REFORMATTED = """\
# the same theme, written differently
rules:
- {name: bed-luxury, classes: [bed], when_style: [Luxury, art deco], prompt: "a golden bed",
   overrides: {denoising_strength: 0.50}, priority: 5}
- prompt: 'a plain bed'
  classes:
    - bed
    - sofa
  negative_prompt: "blurry"
  min_area: 1.0e-2
  name: bed
- {name: bed-rustic, classes: [bed], when_style: [rustic], prompt: a log bed, priority: 0}
- {classes: [Ceiling_Light], prompt: "a chandelier  "}
defaults: {mask_grow: 3, steps: 12, denoising_strength: 0.75}
negative_prompt: ugly
style_prompt: test style
description: a test theme
name: "small"
"""


def test_hash_is_stable_under_reformatting(small: Theme) -> None:
    other = parse_theme(REFORMATTED, "elsewhere/other.yml")
    assert other == replace(small, source="elsewhere/other.yml")
    assert other.hash() == small.hash()
    assert len(small.hash()) == 64 and int(small.hash(), 16) >= 0


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("prompt: a plain bed", "prompt: a plain bed!"),
        ("    priority: 5", "    priority: 6"),
        ("  steps: 12", "  steps: 13"),
        ("[luxury, Art Deco]", "[luxury]"),
        ("description: a test theme", "description: another"),
    ],
)
def test_hash_changes_with_content(small: Theme, old: str, new: str) -> None:
    assert old in SMALL
    assert parse_theme(SMALL.replace(old, new)).hash() != small.hash()


def test_to_dict_is_json_and_parses_back_to_the_same_theme(small: Theme) -> None:
    data = json.loads(json.dumps(small.to_dict()))
    assert data["source"] == "small.yaml"
    assert data["defaults"] == InpaintSettings(steps=12, mask_grow=3).to_dict()
    assert data["rules"][0] == {
        "name": "bed-luxury",
        "classes": ["bed"],
        "prompt": "a golden bed",
        "negative_prompt": "",
        "overrides": {"denoising_strength": 0.5},
        "min_area": 0.0,
        "priority": 5,
        "when_style": ["luxury", "art deco"],
    }
    del data["source"]
    assert parse_theme(json.dumps(data), "small.yaml") == small


# ------------------------------------------------------------------------------------------- errors

RULES = "rules:\n  - classes: [bed]\n    prompt: p\n"


@pytest.mark.parametrize(
    ("text", "line", "field", "problem"),
    [
        # YAML syntax
        ("name: x\ndescription: a: b\n" + RULES, 2, None, "YAML syntax error: mapping values are not allowed"),
        ("name: x\nrules:\n  - classes: [bed\n    prompt: p\n", 4, None, "expected ',' or ']'"),
        ("name: x\n---\nname: y\n", 2, None, "YAML syntax error: expected a single document"),
        # unknown keys
        ("name: x\ncolour: red\n" + RULES, 2, "colour", "unknown key 'colour' (allowed: name, description,"),
        ("name: x\n" + RULES + "    colour: red\n", 5, "rules[0].colour", "unknown key 'colour'"),
        ("name: x\ndefaults:\n  steps: 3\n  seed: 1\n" + RULES, 4, "defaults.seed", "unknown key 'seed'"),
        ("name: x\n" + RULES + "    overrides: {strength: 1}\n", 5, "rules[0].overrides.strength", "unknown key"),
        ("name: x\nname: y\n" + RULES, 2, "name", "duplicate key 'name' (first on line 1)"),
        ("name: x\n1: y\n" + RULES, 2, None, "keys must be words, got 1"),
        # wrong types
        ("name: x\n" + RULES + "  - classes: [bed]\n    prompt: q\n    priority: high\n", 7, "rules[1].priority",
         "must be an integer, got 'high'"),
        ("name: x\n" + RULES + "    priority: true\n", 5, "rules[0].priority", "must be an integer, got True"),
        ("name: x\ndefaults:\n  steps: 20.5\n" + RULES, 3, "defaults.steps", "must be an integer, got 20.5"),
        ("name: x\ndefaults:\n  cfg_scale: high\n" + RULES, 3, "defaults.cfg_scale", "must be a number, got 'high'"),
        ("name: x\ndefaults: 5\n" + RULES, 2, "defaults", "defaults must be a mapping, got 5"),
        ("name: x\nrules:\n  - classes: bed\n    prompt: p\n", 3, "rules[0].classes",
         "must be a list of class names, got 'bed'"),
        ("name: x\nrules:\n  - classes: [bed, [sofa]]\n    prompt: p\n", 3, "rules[0].classes[1]",
         "must be a string, got a list"),
        ("name: x\nrules:\n  - classes: [bed]\n    prompt: {a: 1}\n", 4, "rules[0].prompt",
         "must be a string, got a mapping"),
        ("name: x\nrules: {bed: p}\n", 2, "rules", "must be a list of rules, got a mapping"),
        ("name: x\nrules:\n  - bed\n", 3, "rules[0]", "rules[0] must be a mapping, got 'bed'"),
        ("name: x\ndescription: [a]\n" + RULES, 2, "description", "must be a string, got a list"),
        ("name: x\n" + RULES + "    when_style: luxury\n", 5, "rules[0].when_style",
         "must be a list of style tag names, got 'luxury'"),
        # out of range
        ("name: x\ndefaults:\n  denoising_strength: 1.5\n" + RULES, 3, "defaults.denoising_strength",
         "must be between 0 and 1, got 1.5"),
        ("name: x\n" + RULES + "    overrides:\n      steps: 0\n", 6, "rules[0].overrides.steps",
         "must be between 1 and 150, got 0"),
        ("name: x\n" + RULES + "    min_area: -0.1\n", 5, "rules[0].min_area", "must be between 0 and 1, got -0.1"),
        ("name: x\ndefaults: {cfg_scale: .nan}\n" + RULES, 2, "defaults.cfg_scale",
         "must be between 1 and 30, got nan"),
        # missing fields
        ("name: x\nrules:\n  - classes: [bed]\n    prompt: p\n  - name: r\n    classes: [sofa]\n", 5,
         "rules[1].prompt", "required field is missing"),
        ("description: d\n" + RULES, 1, "name", "required field is missing"),
        ("name: x\ndescription: d\n", 1, "rules", "required field is missing"),
        # empty things
        ("name: x\nrules:\n  - prompt: p\n    classes: []\n", 4, "rules[0].classes", "must list at least one class"),
        ("name: x\nrules: []\n", 2, "rules", "must list at least one rule"),
        ("name: x\nrules:\n  - classes: [bed]\n    prompt: '  '\n", 4, "rules[0].prompt", "must not be empty"),
        ("name: x\nrules:\n  - classes: [bed, Bed]\n    prompt: p\n", 3, "rules[0].classes[1]",
         "class 'bed' is listed twice"),
        # names
        ("name: Alien Theme\n" + RULES, 1, "name", "must use only lowercase letters, digits, '_' and '-'"),
        ("name: x\n" + RULES + "  - name: bed\n    classes: [sofa]\n    prompt: q\n", 5, "rules[1].name",
         "'bed' is already used by rules[0]"),
        ("name: x\n" + RULES + "  - classes: [bed]\n    prompt: q\n", 5, "rules[1].name",
         "'bed' is already used by rules[0] (the default name, made of its classes); give the rule a name"),
        # whole document
        ("- name: x\n", 1, None, "the theme must be a mapping, got a list"),
    ],
)  # fmt: skip
def test_errors_name_file_line_and_field(text: str, line: int, field: str | None, problem: str) -> None:
    with pytest.raises(ThemeError) as info:
        parse_theme(text, "themes/bad.yaml")
    err = info.value
    assert (err.file, err.line, err.field) == ("themes/bad.yaml", line, field)
    assert problem in err.problem
    prefix = f"themes/bad.yaml:{line}: {field}: " if field else f"themes/bad.yaml:{line}: "
    assert str(err) == prefix + err.problem


@pytest.mark.parametrize("composer", ["SafeLoader", "CSafeLoader"])
def test_syntax_error_lines_do_not_depend_on_libyaml(composer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(yaml, composer):
        pytest.skip(f"PyYAML built without {composer}")
    monkeypatch.setattr(parsing, "_COMPOSER", getattr(yaml, composer))
    for text, line in [("name: x\ndescription: a: b\n", 2), ("name: x\nrules:\n  - classes: [bed\n    prompt: p\n", 4)]:
        with pytest.raises(ThemeError) as info:
            parse_theme(text, "t.yaml")
        assert (info.value.line, info.value.field) == (line, None)
        assert info.value.problem.startswith("YAML syntax error: ")
    assert parse_theme(SMALL, "small.yaml").hash() == parse_theme(REFORMATTED).hash()


def test_error_text_matches_the_documented_form() -> None:
    text = "name: x\nrules:\n" + "".join(f"  - {{name: r{i}, classes: [bed], prompt: p}}\n" for i in range(3))
    text += "  - name: r3\n    classes: [bed]\n    prompt: p\n    priority: high\n"
    with pytest.raises(ThemeError) as info:
        parse_theme(text, "themes/bad.yaml")
    assert str(info.value) == "themes/bad.yaml:9: rules[3].priority: must be an integer, got 'high'"


@pytest.mark.parametrize(("key", "limits"), SETTING_BOUNDS.items())
def test_each_setting_accepts_its_bounds_and_rejects_beyond(key: str, limits) -> None:
    kind, low, high, _ = limits
    step = 1 if kind is int else 0.01
    for ok in (low, high):
        assert parse_theme(f"name: x\ndefaults: {{{key}: {ok}}}\n{RULES}").defaults.to_dict()[key] == ok
    for bad in (low - step, high + step):
        with pytest.raises(ThemeError) as info:
            parse_theme(f"name: x\ndefaults:\n  {key}: {bad}\n{RULES}", "t.yaml")
        assert (info.value.line, info.value.field) == (3, f"defaults.{key}")
        assert "must be between" in info.value.problem


def test_empty_file_and_null_optional_strings() -> None:
    with pytest.raises(ThemeError, match="^t.yaml: the file is empty"):
        parse_theme("# nothing here\n", "t.yaml")
    theme = parse_theme("name: x\nnegative_prompt:\n" + RULES + "    negative_prompt:\n")
    assert theme.negative_prompt == "" and theme.rules[0].negative_prompt == ""


def test_load_theme_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nrules:\n  - classes: []\n    prompt: p\n", encoding="utf-8")
    with pytest.raises(ThemeError) as info:
        load_theme(path)
    assert str(info.value) == f"{path}:3: rules[0].classes: must list at least one class"
    with pytest.raises(ThemeError, match="missing.yaml: file not found$"):
        load_theme(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ThemeError, match=r"binary.yaml: not UTF-8 text"):
        load_theme(binary)


# ------------------------------------------------------------------------------------------- catalog


def test_builtin_catalog() -> None:
    catalog = load_catalog()
    assert list(catalog.themes) == BUILTINS
    assert catalog.errors == []
    assert get_theme("alien").source == str(builtin_themes_dir() / "alien.yaml")


def test_catalog_keeps_going_past_a_broken_user_file(tmp_path: Path) -> None:
    (tmp_path / "a_broken.yaml").write_text("name: broken\nrules:\n  - classes: [bed]\n    prompt: 3\n", "utf-8")
    (tmp_path / "mine.yml").write_text("name: mine\n" + RULES, "utf-8")
    (tmp_path / "alien.yaml").write_text("name: alien\n" + RULES.replace("prompt: p", "prompt: my alien"), "utf-8")
    (tmp_path / "notes.txt").write_text("name: notes\n" + RULES, "utf-8")
    (tmp_path / "z_copy.yaml").write_text("name: mine\n" + RULES, "utf-8")
    catalog = load_catalog(tmp_path)
    assert sorted(catalog.themes) == ["alien", "cyberpunk", "mine", "winter_holiday"]
    assert catalog.themes["alien"].rules[0].prompt == "my alien"
    assert catalog.themes["alien"].source == str(tmp_path / "alien.yaml")
    assert catalog.themes["mine"].source == str(tmp_path / "mine.yml")
    assert [str(e) for e in catalog.errors] == [
        f"{tmp_path / 'a_broken.yaml'}:4: rules[0].prompt: must be a string, got 3",
        f"{tmp_path / 'z_copy.yaml'}: name: theme 'mine' is already defined by {tmp_path / 'mine.yml'}",
    ]
    assert get_theme("alien", tmp_path).rules[0].prompt == "my alien"
    assert get_theme("cyberpunk", tmp_path).name == "cyberpunk"


def test_missing_user_dir_is_empty_and_a_file_is_an_error(tmp_path: Path) -> None:
    assert list(load_catalog(tmp_path / "not-there").themes) == BUILTINS
    not_a_dir = tmp_path / "file.yaml"
    not_a_dir.write_text("x", "utf-8")
    catalog = load_catalog(not_a_dir)
    assert list(catalog.themes) == BUILTINS
    assert [e.file for e in catalog.errors] == [str(not_a_dir)]


def test_unknown_theme_lists_the_available_ones(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: [x]\n" + RULES, "utf-8")
    with pytest.raises(UnknownThemeError) as info:
        get_theme("martian", tmp_path)
    assert isinstance(info.value, KeyError) and isinstance(info.value, ThemeError)
    message = str(info.value)
    assert "no theme named 'martian'; available: alien, cyberpunk, winter_holiday" in message
    assert "1 theme file(s) could not be loaded" in message and "bad.yaml:1: name: must be a string" in message


# ------------------------------------------------------------------------------------------- vocabulary checks


def test_unknown_classes_and_warning_text(vocab: Vocabulary) -> None:
    theme = parse_theme(
        "name: x\nrules:\n"
        "  - {name: y, classes: [foo, carpet, bed], prompt: p}\n"
        "  - {name: z, classes: [Foo, spaceship, Ceiling_Light], prompt: p, when_style: [gothic]}\n",
        "my.yaml",
    )
    assert unknown_classes(theme, vocab) == ["foo", "spaceship"]
    assert theme_warnings(theme, vocab) == [
        "theme 'x' (my.yaml): rule 'y' names class 'foo' that is not in the vocabulary",
        "theme 'x' (my.yaml): rule 'z' names class 'foo' that is not in the vocabulary",
        "theme 'x' (my.yaml): rule 'z' names class 'spaceship' that is not in the vocabulary",
        "theme 'x' (my.yaml): rule 'z' is conditional on style 'gothic' that is not in the vocabulary",
    ]


def test_warning_for_rules_that_can_never_apply(small: Theme, vocab: Vocabulary) -> None:
    assert theme_warnings(small, vocab) == [
        "theme 'small' (small.yaml): rule 'bed-rustic' never applies to class 'bed': "
        "rule 'bed' before it always matches first"
    ]
    narrower = parse_theme(
        "name: n\nrules:\n"
        "  - {name: a, classes: [bed], prompt: p, when_style: [luxury, classic]}\n"
        "  - {name: b, classes: [bed], prompt: p, when_style: [luxury]}\n"
        "  - {name: c, classes: [bed], prompt: p, when_style: [luxury, rustic]}\n",
    )
    assert theme_warnings(narrower, vocab) == [
        "theme 'n' (<inline>): rule 'b' never applies to class 'bed': rule 'a' before it always matches first"
    ]


def test_with_canonical_classes_lets_synonym_rules_match(vocab: Vocabulary) -> None:
    theme = parse_theme("name: x\nrules:\n  - {name: r, classes: [carpet, area rug, chandelier, foo], prompt: p}\n")
    assert theme.rule_for("rug", []) is None
    canonical = with_canonical_classes(theme, vocab)
    assert canonical.rules[0].classes == ("rug", "ceiling light", "foo")
    assert canonical.rule_for("rug", []).name == "r"
    assert canonical.rule_for("ceiling light", []).name == "r"


def test_braces_other_than_caption_are_named(vocab: Vocabulary) -> None:
    theme = parse_theme(
        "name: b\nstyle_prompt: '{caption}, {room}'\n"
        "rules:\n  - {name: bed, classes: [bed], prompt: '{red|blue} bed', negative_prompt: '{caption}'}\n",
        "b.yaml")
    assert theme_warnings(theme, vocab) == [
        "theme 'b' (b.yaml): style_prompt holds {room}, which is not filled in (only {caption} is): it reaches the "
        "model as written",
        "theme 'b' (b.yaml): rule 'bed' prompt holds {red|blue}, which is not filled in (only {caption} is): it "
        "reaches the model as written",
    ]
