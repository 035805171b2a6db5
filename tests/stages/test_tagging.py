"""Tagging stage on random-weight OWL-ViT / CLIP folders: mechanics, shapes, ranges and counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import transformers
from PIL import Image

from alien_filters.core.contracts import Releasable, Tagger, Tags
from alien_filters.stages.tagging import ClipStyleScorer, ObjectStyleTagger, OwlDetector
from tests.support.builders_detectors import owlv2_available, room_image, write_clip, write_owlv2, write_owlvit

QUERIES = [("a bed", "bed"), ("a photo of a bed", "bed"), ("a lamp", "lamp"), ("an armchair", "armchair")]
CLASSES = {"bed", "lamp", "armchair"}
STYLES = [("a modern hotel room", "modern"), ("a contemporary hotel room", "modern"), ("a rustic room", "rustic"),
          ("an art deco room", "art deco")]


IMAGES = [room_image(160, 96, 1), room_image(80, 120, 2), room_image(64, 64, 3)]


@pytest.fixture(scope="module")
def owl_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_owlvit(tmp_path_factory.mktemp("owl") / "owlvit-base-patch32")


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip-vit-base-patch32")


@pytest.fixture(scope="module")
def detector(owl_folder: Path) -> OwlDetector:
    return OwlDetector.from_pretrained(owl_folder, QUERIES, default_threshold=0.0)


@pytest.fixture(scope="module")
def scorer(clip_folder: Path) -> ClipStyleScorer:
    return ClipStyleScorer.from_pretrained(clip_folder, STYLES, QUERIES)


def test_detections_are_vocabulary_classes_with_scores_and_boxes_inside(detector: OwlDetector) -> None:
    for image in IMAGES:
        detections = detector.detect(image)
        assert detections, "threshold 0 keeps every box"
        width, height = image.size
        for det in detections:
            assert det.label in CLASSES
            assert 0.0 <= det.score <= 1.0
            x0, y0, x1, y1 = det.box
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        scores = [d.score for d in detections]
        assert scores == sorted(scores, reverse=True)


def test_threshold_above_one_gives_nothing(owl_folder: Path) -> None:
    strict = OwlDetector.from_pretrained(owl_folder, QUERIES, default_threshold=1.01)
    assert all(strict.detect(image) == [] for image in IMAGES)


def test_per_class_threshold_only_removes_that_class(owl_folder: Path, detector: OwlDetector) -> None:
    no_beds = OwlDetector.from_pretrained(owl_folder, QUERIES, thresholds={"bed": 1.01}, default_threshold=0.0)
    kept_somewhere = False
    for image in IMAGES:
        expected = [d for d in detector.detect(image) if d.label != "bed"]
        assert no_beds.detect(image) == expected
        kept_somewhere |= bool(expected)
    assert kept_somewhere


def test_synonyms_of_one_class_give_one_detection_per_box_with_the_best_score(owl_folder: Path) -> None:
    def load(queries: list[tuple[str, str]]) -> OwlDetector:
        return OwlDetector.from_pretrained(owl_folder, queries, default_threshold=0.0, nms_iou=1.0)

    both = load([("a bed", "bed"), ("a photo of a bed", "bed")])
    first, second = load([("a bed", "bed")]), load([("a photo of a bed", "bed")])
    image = IMAGES[0]
    merged = {d.box: d.score for d in both.detect(image)}
    assert len(merged) == len(both.detect(image)), "one detection per box, not one per synonym"
    score_first = {d.box: d.score for d in first.detect(image)}
    score_second = {d.box: d.score for d in second.detect(image)}
    assert merged.keys() == score_first.keys() == score_second.keys()
    for box, score in merged.items():
        assert score == pytest.approx(max(score_first[box], score_second[box]), abs=1e-6)


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def test_overlapping_boxes_of_one_class_are_suppressed(owl_folder: Path) -> None:
    def load(nms_iou: float) -> OwlDetector:
        return OwlDetector.from_pretrained(owl_folder, QUERIES, default_threshold=0.0, nms_iou=nms_iou)

    strict, no_nms = load(0.01), load(1.0)
    image = IMAGES[0]
    detections = strict.detect(image)
    assert 0 < len(detections) < len(no_nms.detect(image))
    for i, a in enumerate(detections):
        for b in detections[i + 1 :]:
            if a.label == b.label:
                assert _iou(a.box, b.box) <= strict.nms_iou + 1e-6


def _assert_matches_model_forward(folder: Path, processor_class: type, image: Image.Image, square: bool) -> None:
    """Text embeddings reused through the vision-only path give the boxes and scores of the model's own
    forward + post-processing (boxes relative to the padded square for OWLv2, clamped into the image)."""
    queries = [("a bed", "bed"), ("a lamp", "lamp")]
    ours = OwlDetector.from_pretrained(folder, queries, default_threshold=0.0, nms_iou=1.0)
    processor = processor_class.from_pretrained(folder)
    inputs = processor(text=[[q for q, _ in queries]], images=image, return_tensors="pt")
    with torch.no_grad():
        outputs = ours.model(**inputs)
    width, height = image.size
    target = [[max(width, height)] * 2] if square else [[height, width]]
    reference = processor.post_process_object_detection(
        outputs=outputs, threshold=0.0, target_sizes=torch.tensor(target)
    )[0]
    boxes = reference["boxes"].clamp(min=torch.zeros(4), max=torch.tensor([width, height, width, height]))
    expected = sorted(
        (queries[int(label)][1], round(float(score), 4), tuple(round(float(v), 2) for v in box))
        for box, score, label in zip(boxes, reference["scores"], reference["labels"], strict=True)
        if box[2] > box[0] and box[3] > box[1]
    )
    got = sorted((d.label, round(d.score, 4), tuple(round(v, 2) for v in d.box)) for d in ours.detect(image))
    assert got and got == expected


def test_matches_the_full_model_forward_and_post_processing(owl_folder: Path) -> None:
    _assert_matches_model_forward(owl_folder, transformers.OwlViTProcessor, IMAGES[0], square=False)


def test_query_texts_are_encoded_once_across_images(owl_folder: Path) -> None:
    detector = OwlDetector.from_pretrained(owl_folder, QUERIES)
    calls = {"text": 0, "vision": 0}
    base = detector.model.owlvit
    base.text_model.register_forward_hook(lambda *_: calls.__setitem__("text", calls["text"] + 1))
    base.vision_model.register_forward_hook(lambda *_: calls.__setitem__("vision", calls["vision"] + 1))
    for image in IMAGES:
        detector.detect(image)
    assert calls == {"text": 1, "vision": len(IMAGES)}
    assert detector.text_encodings == 1


def test_owlv2_folder(tmp_path: Path) -> None:
    folder = tmp_path / "owlv2"
    if owlv2_available():
        write_owlv2(folder)
        detector = OwlDetector.from_pretrained(folder, QUERIES, default_threshold=0.0)
        image = IMAGES[1]  # portrait: OWLv2 pads to a square, boxes must still land inside the image
        _assert_matches_model_forward(folder, transformers.Owlv2Processor, image, square=True)
        detections = detector.detect(image)
        assert detector.name == "owlv2" and detections
        for det in detections:
            assert det.label in CLASSES and 0.0 <= det.score <= 1.0
            assert 0 <= det.box[0] < det.box[2] <= image.width and 0 <= det.box[1] < det.box[3] <= image.height
    else:
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"model_type": "owlv2"}), encoding="utf-8")
        with pytest.raises(RuntimeError, match="owlv2.*owlvit-base-patch32"):
            OwlDetector.from_pretrained(folder, QUERIES)


def test_bad_folders_give_errors_naming_them(tmp_path: Path, owl_folder: Path, clip_folder: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing"):
        OwlDetector.from_pretrained(tmp_path / "nowhere", QUERIES)
    with pytest.raises(ValueError, match="not an OWL detector"):
        OwlDetector.from_pretrained(clip_folder, QUERIES)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=str(broken)):
        ClipStyleScorer.from_pretrained(broken, STYLES)
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text((clip_folder / "config.json").read_text(), encoding="utf-8")
    with pytest.raises(OSError, match="no_weights"):
        ClipStyleScorer.from_pretrained(no_weights, STYLES)
    with pytest.raises(ValueError, match="at least one"):
        OwlDetector.from_pretrained(owl_folder, [])


def test_style_scores_sum_to_one_over_the_given_styles(scorer: ClipStyleScorer) -> None:
    for image in IMAGES:
        scores = scorer.score(image)
        assert set(scores) == {"modern", "rustic", "art deco"}
        assert all(0.0 <= p <= 1.0 for p in scores.values())
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-5)


def test_style_scores_match_clip_forward_with_synonyms_summed(scorer: ClipStyleScorer, clip_folder: Path) -> None:
    processor = transformers.CLIPProcessor.from_pretrained(clip_folder)
    image = IMAGES[0]
    inputs = processor(text=[p for p, _ in STYLES], images=image, return_tensors="pt", padding=True)
    with torch.no_grad():
        probs = scorer.model(**inputs).logits_per_image.softmax(dim=-1)[0].tolist()
    scores = scorer.score(image)
    assert scores["modern"] == pytest.approx(probs[0] + probs[1], abs=1e-5)
    assert scores["rustic"] == pytest.approx(probs[2], abs=1e-5)
    assert scores["art deco"] == pytest.approx(probs[3], abs=1e-5)


def test_clip_text_is_encoded_once_per_prompt_list(clip_folder: Path) -> None:
    scorer = ClipStyleScorer.from_pretrained(clip_folder, STYLES, QUERIES)
    calls = []
    scorer.model.text_model.register_forward_hook(lambda *_: calls.append(1))
    for image in IMAGES:
        scorer.score(image)
        scorer.label_regions([image, image.crop((0, 0, 32, 32))])
    assert len(calls) == 2 and scorer.text_encodings == 2


def test_label_regions_gives_one_vocabulary_class_per_crop(scorer: ClipStyleScorer) -> None:
    crops = [IMAGES[0].crop((0, 0, 40, 30)), IMAGES[1], IMAGES[2].crop((10, 10, 60, 60))]
    labels = scorer.label_regions(crops)
    assert len(labels) == len(crops)
    for label, score in labels:
        assert label in CLASSES
        assert 1 / len(CLASSES) - 1e-6 <= score <= 1.0  # the best of a softmax over the classes
    assert scorer.label_regions([]) == []


def test_label_regions_without_class_queries_is_a_clear_error(clip_folder: Path) -> None:
    styles_only = ClipStyleScorer.from_pretrained(clip_folder, STYLES)
    with pytest.raises(ValueError, match="class_queries"):
        styles_only.label_regions([IMAGES[0]])


def test_object_style_tagger_is_a_releasable_tagger(detector: OwlDetector, scorer: ClipStyleScorer) -> None:
    tagger = ObjectStyleTagger(detector, scorer, captioner=lambda image: f"a room of {image.width}x{image.height}")
    assert isinstance(tagger, Tagger) and isinstance(tagger, Releasable)
    image = IMAGES[0]
    tags = tagger.tag(image)
    assert isinstance(tags, Tags)
    assert tags.objects == detector.detect(image)
    assert tags.styles == scorer.score(image)
    assert tags.caption == "a room of 160x96"
    tagger.release()
    assert tagger.tag(image).objects == tags.objects, "still works after release"


def test_tagger_from_folders(owl_folder: Path, clip_folder: Path) -> None:
    tagger = ObjectStyleTagger.from_folders(owl_folder, QUERIES, clip_folder, STYLES, default_threshold=0.0)
    tags = tagger.tag(IMAGES[2])
    assert tagger.name == "owlvit+clip"
    assert {d.label for d in tags.objects} <= CLASSES and tags.objects
    assert sum(tags.styles.values()) == pytest.approx(1.0, abs=1e-5)
    objects_only = ObjectStyleTagger.from_folders(owl_folder, QUERIES)
    assert objects_only.tag(IMAGES[2]).styles == {} and objects_only.name == "owlvit"


def test_release_hands_both_models_to_the_offload_policy(detector: OwlDetector, scorer: ClipStyleScorer,
                                                         monkeypatch) -> None:
    from alien_filters.models import device as devices

    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(devices, "release_model", lambda m, d, mode: calls.append((type(m).__name__, mode)) or m)
    ObjectStyleTagger(detector, scorer).release()
    assert sorted(calls) == sorted([(type(detector.model).__name__, "cpu"), (type(scorer.model).__name__, "cpu")])
