"""The vocabulary data file and its look-ups."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from alien_filters.core.vocabulary import DEFAULT_PATH, ObjectClass, Vocabulary, VocabularyError, load_vocabulary

ISSUE_CLASSES = [
    "bed", "pillow", "blanket", "nightstand", "table", "desk", "chair", "armchair", "sofa", "lamp",
    "ceiling light", "window", "curtain", "wall", "ceiling", "floor", "rug", "painting", "mirror",
    "television", "wardrobe", "door", "plant", "clock", "shelf",
]  # fmt: skip
ISSUE_STYLES = ["modern", "classic", "minimalist", "luxury", "rustic", "industrial", "scandinavian", "vintage"]


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return load_vocabulary()


def write(tmp_path: Path, text: str, name: str = "vocab.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_class_of_the_issue_is_a_class_of_its_own(vocab: Vocabulary) -> None:
    names = vocab.class_names()
    for name in ISSUE_CLASSES:
        assert name in names
        assert vocab.canonical(name) == name
    assert len(names) == len(set(names))
    assert len(names) >= len(ISSUE_CLASSES) + 15  # plus more hotel-interior classes


def test_canonical_accepts_synonyms_any_case_and_underscores(vocab: Vocabulary) -> None:
    assert vocab.canonical("carpet") == "rug"
    assert vocab.canonical("Carpet") == "rug"
    assert vocab.canonical("  Bedside   TABLE ") == "nightstand"
    assert vocab.canonical("ceiling_light") == "ceiling light"
    assert vocab.canonical("chandelier") == "ceiling light"
    assert vocab.canonical("couch") == "sofa"
    assert vocab.canonical("TV") == "television"
    assert vocab.canonical("spaceship") is None
    assert vocab.canonical("") is None


def test_queries_cover_every_class_and_every_synonym_once(vocab: Vocabulary) -> None:
    queries = vocab.queries()
    expected = sum(1 + len(c.synonyms) for c in vocab.classes)
    assert len(queries) == expected
    assert len({text for text, _ in queries}) == expected
    assert ("a photo of a bed", "bed") in queries
    assert ("a photo of a carpet", "rug") in queries
    assert ("a photo of an armchair", "armchair") in queries
    assert ("a photo of an area rug", "rug") in queries
    assert {name for _, name in queries} == set(vocab.class_names())
    for text, name in queries:
        assert vocab.canonical(text.split(" ", 4)[-1]) == name


def test_styles_and_style_prompts(vocab: Vocabulary) -> None:
    for style in [*ISSUE_STYLES, "art deco", "bohemian", "mid-century modern", "coastal", "japanese", "budget"]:
        assert style in vocab.styles
    assert len(vocab.styles) == len(set(vocab.styles))
    prompts = vocab.style_prompts()
    assert [s for _, s in prompts] == list(vocab.styles)
    assert ("a photo of a minimalist hotel room interior", "minimalist") in prompts
    assert ("a photo of an art deco hotel room interior", "art deco") in prompts


def test_load_is_cached_per_path(vocab: Vocabulary, tmp_path: Path) -> None:
    assert load_vocabulary() is vocab
    assert load_vocabulary(DEFAULT_PATH) is vocab
    relative = Path(os.path.relpath(DEFAULT_PATH))
    assert load_vocabulary(relative) is vocab


def test_custom_file_with_explicit_query_and_templates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "query_template: 'an image of {article} {name}'\n"
        "style_template: '{style} room'\n"
        "classes:\n"
        "  - name: Ceiling Light\n"
        "    synonyms: [Chandelier]\n"
        "    query: 'a light hanging from a ceiling'\n"
        "  - egg chair\n"
        "styles: [Art Deco]\n",
    )
    vocab = load_vocabulary(path)
    assert vocab.classes == (
        ObjectClass("ceiling light", ("chandelier",), "a light hanging from a ceiling"),
        ObjectClass("egg chair", (), "an image of an egg chair"),
    )
    assert vocab.queries() == [
        ("a light hanging from a ceiling", "ceiling light"),
        ("an image of a chandelier", "ceiling light"),
        ("an image of an egg chair", "egg chair"),
    ]
    assert vocab.style_prompts() == [("art deco room", "art deco")]


STYLES = "styles: [modern]\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("classes: [bed, {name: sofa, synonyms: [bed]}]\n" + STYLES, "used twice: by class 'bed' and by class 'sofa'"),
        ("classes: [{name: rug, synonyms: [carpet, Carpet]}]\n" + STYLES, "'carpet' is listed twice for class 'rug'"),
        ("classes: [bed]\ncolours: [red]\n" + STYLES, "colours: unknown key"),
        ("classes: [{name: bed, synonym: [cot]}]\n" + STYLES, "classes[0].synonym: unknown key"),
        ("classes: [{synonyms: [cot]}]\n" + STYLES, "classes[0].name: required field is missing"),
        ("classes: [bed, 3]\n" + STYLES, "classes[1]: must be a class name or a mapping"),
        ("classes: []\n" + STYLES, "classes: must be a non-empty list"),
        ("classes: [bed]\n", "styles: must be a non-empty list"),
        ("classes: [bed]\nstyles: [modern, Modern]\n", "styles: listed more than once: modern"),
        ("classes: [bed]\nstyles: [modern, '']\n", "styles[1]: must be a non-empty string"),
        ("query_template: 'a photo'\nclasses: [bed]\n" + STYLES, "query_template: template 'a photo' must"),
        ("style_template: '{colour} {style}'\nclasses: [bed]\n" + STYLES, "style_template: bad template"),
        ("classes: [bed\n" + STYLES, "line 2: YAML syntax error"),
        ("- bed\n- sofa\n", "expected a mapping"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(VocabularyError) as info:
        load_vocabulary(path)
    assert str(info.value).startswith(f"{path.resolve()}: ")
    assert problem in str(info.value)
    assert info.value.file == str(path.resolve())


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VocabularyError, match="nothing.yaml: file not found"):
        load_vocabulary(tmp_path / "nothing.yaml")


def test_ambiguous_vocabulary_cannot_be_built_directly() -> None:
    with pytest.raises(ValueError, match="'couch' is used twice"):
        Vocabulary(classes=(ObjectClass("sofa", ("couch",)), ObjectClass("couch")), styles=("modern",))


def test_per_class_thresholds_are_read_and_checked(tmp_path):
    from alien_filters.core.vocabulary import VocabularyError, load_vocabulary

    default = load_vocabulary()
    assert default.thresholds()["wall"] == 0.15 and "bed" not in default.thresholds()
    good = tmp_path / "v.yaml"
    good.write_text("classes:\n  - {name: bed, threshold: 0.3}\n  - lamp\nstyles: [modern]\n")
    assert load_vocabulary(good).thresholds() == {"bed": 0.3}
    bad = tmp_path / "bad.yaml"
    bad.write_text("classes:\n  - {name: bed, threshold: 2}\nstyles: [modern]\n")
    with pytest.raises(VocabularyError, match=r"classes\[0\].threshold: must be a number in \(0, 1\]"):
        load_vocabulary(bad)
