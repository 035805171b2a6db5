"""Segmentation stage on a random-weight SAM vit_b checkpoint: one embedding per image, batched box prompts,
per-class merging, and the automatic-mask path labelled by CLIP. SAM on CPU is slow, so each path runs once
(module fixtures) and the tests check what that run recorded."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest
import torch
from PIL import Image
from segment_anything import SamAutomaticMaskGenerator, SamPredictor

from alien_filters.core.contracts import Detection, Releasable, Segmenter
from alien_filters.stages.sam_attention import FusedAttention
from alien_filters.stages.segment import AutoMaskSettings, SamSegmenter, region_crop
from alien_filters.stages.tagging import ClipStyleScorer, OwlDetector
from tests.support.builders_detectors import SAM_FILES, room_image, write_clip, write_models_folder, write_sam

IMAGE = room_image(160, 96, 7)
WIDTH, HEIGHT = IMAGE.size
DETECTIONS = [
    Detection("bed", 0.9, (10.0, 10.0, 80.0, 60.0)),
    Detection("lamp", 0.5, (120.0, 50.0, 200.0, 120.0)),  # reaches past the image: clamped
    Detection("bed", 0.7, (50.0, 20.0, 150.0, 90.0)),
    Detection("curtain", 0.6, (170.0, 0.0, 200.0, 50.0)),  # wholly outside the image: ignored
]
INSIDE = DETECTIONS[:3]
CLASS_QUERIES = [("a bed", "bed"), ("a lamp", "lamp"), ("a curtain", "curtain"), ("drapes", "curtain")]
MIN_LABEL_SCORE = 0.4


@pytest.fixture(scope="module")
def sam_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sam(tmp_path_factory.mktemp("sam") / SAM_FILES["vit_b"])


@dataclass
class Run:
    masks: dict[str, np.ndarray]
    embeddings: int
    decoder_calls: int
    recorded: list[Any]


def _run_recording(segmenter: SamSegmenter, target: Any, name: str, detections: Sequence[Detection]) -> Run:
    """Segment IMAGE once, recording what ``target.name`` returned and counting decoder calls."""
    model = segmenter.load()
    decoder_calls: list[int] = []
    hook = model.mask_decoder.register_forward_hook(lambda *_: decoder_calls.append(1))
    recorded: list[Any] = []
    original = getattr(target, name)

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(self, *args, **kwargs)
        recorded.append((args, kwargs, out))
        return out

    before = segmenter.embeddings_computed
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(target, name, spy)
        masks = segmenter.segment(IMAGE, detections)
    hook.remove()
    return Run(masks, segmenter.embeddings_computed - before, len(decoder_calls), recorded)


@pytest.fixture(scope="module")
def box_run(sam_checkpoint: Path) -> Run:
    return _run_recording(SamSegmenter(sam_checkpoint), SamPredictor, "predict_torch", DETECTIONS)


class RecordingLabeler:
    """The real CLIP labeler, remembering the crops it was given and its answers."""

    def __init__(self, scorer: ClipStyleScorer) -> None:
        self.scorer = scorer
        self.calls: list[tuple[list[Image.Image], list[tuple[str, float]]]] = []

    def label_regions(self, crops: Sequence[Image.Image]) -> list[tuple[str, float]]:
        labels = self.scorer.label_regions(crops)
        self.calls.append((list(crops), labels))
        return labels


@pytest.fixture(scope="module")
def auto_run(sam_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, RecordingLabeler]:
    clip = write_clip(tmp_path_factory.mktemp("clip") / "clip-vit-base-patch32")
    labeler = RecordingLabeler(ClipStyleScorer.from_pretrained(clip, [], CLASS_QUERIES))
    # Random weights: keep every mask SAM proposes and only 2 x 2 points, so post-processing stays quick.
    settings = AutoMaskSettings(pred_iou_thresh=0.0, stability_score_thresh=0.0, min_label_score=MIN_LABEL_SCORE)
    segmenter = SamSegmenter(sam_checkpoint, labeler=labeler, amg_points_per_side=2, auto=settings)
    return _run_recording(segmenter, SamAutomaticMaskGenerator, "generate", []), labeler


def test_one_bool_mask_of_the_image_size_per_detected_class(box_run: Run) -> None:
    assert set(box_run.masks) == {"bed", "lamp"}
    for mask in box_run.masks.values():
        assert mask.dtype == bool and mask.shape == (HEIGHT, WIDTH) and mask.any()


def test_one_embedding_and_one_batched_decoder_call_for_all_boxes(box_run: Run) -> None:
    assert box_run.embeddings == 1
    assert box_run.decoder_calls == 1
    ((args, kwargs, (masks, scores, _)),) = box_run.recorded
    assert kwargs["multimask_output"] is True
    assert masks.shape == (len(INSIDE), 3, HEIGHT, WIDTH) and scores.shape == (len(INSIDE), 3)


def test_boxes_are_clamped_and_mapped_to_sams_input_frame(box_run: Run) -> None:
    ((_, kwargs, _),) = box_run.recorded
    scale = 1024 / max(WIDTH, HEIGHT)  # SAM resizes the long side to 1024
    clamped = [(10, 10, 80, 60), (120, 50, WIDTH, HEIGHT), (50, 20, 150, 90)]
    expected = torch.tensor(clamped, dtype=torch.float32) * scale
    assert torch.allclose(kwargs["boxes"].cpu(), expected, atol=0.5)


def test_best_mask_per_box_merged_per_class(box_run: Run) -> None:
    ((_, _, (masks, scores, _)),) = box_run.recorded
    best = [masks[i, int(scores[i].argmax())].cpu().numpy() for i in range(len(INSIDE))]
    np.testing.assert_array_equal(box_run.masks["bed"], best[0] | best[2])
    np.testing.assert_array_equal(box_run.masks["lamp"], best[1])


def test_no_detections_labels_automatic_masks(auto_run: tuple[Run, RecordingLabeler]) -> None:
    run, labeler = auto_run
    assert run.embeddings == 1
    ((_, _, proposals),) = run.recorded
    regions = [p["segmentation"] for p in proposals if p["segmentation"].any()]
    assert regions, "SAM proposed regions"
    ((crops, labels),) = labeler.calls
    assert [crop.size for crop in crops] == [region_crop(np.asarray(IMAGE), r).size for r in regions]
    expected: dict[str, np.ndarray] = {}
    for (label, score), region in zip(labels, regions, strict=True):
        assert label in {"bed", "lamp", "curtain"} and 0.0 <= score <= 1.0
        if score >= MIN_LABEL_SCORE:
            expected[label] = expected.get(label, np.zeros((HEIGHT, WIDTH), bool)) | region
    assert run.masks.keys() == expected.keys()
    for label, mask in run.masks.items():
        assert mask.dtype == bool and mask.shape == (HEIGHT, WIDTH)
        np.testing.assert_array_equal(mask, expected[label])


def test_region_crop_is_the_masks_box_with_the_rest_neutral() -> None:
    rgb = np.full((20, 30, 3), 255, np.uint8)
    mask = np.zeros((20, 30), bool)
    mask[5:9, 10:20] = True
    mask[8, 10] = False
    crop = np.asarray(region_crop(rgb, mask))
    assert crop.shape == (4, 10, 3)
    assert (crop[0, 0] == 255).all() and (crop[3, 0] != 255).any()


def test_no_detections_and_no_labeler_gives_nothing_without_loading(sam_checkpoint: Path) -> None:
    segmenter = SamSegmenter(sam_checkpoint)
    assert segmenter.segment(IMAGE, []) == {}
    assert segmenter.segment(IMAGE, DETECTIONS[3:]) == {}, "only a box outside the image"
    assert segmenter.model is None and segmenter.embeddings_computed == 0


def test_is_a_releasable_segmenter(sam_checkpoint: Path) -> None:
    loads: list[str] = []
    segmenter = SamSegmenter(sam_checkpoint, on_load=loads.append)
    assert isinstance(segmenter, Segmenter) and isinstance(segmenter, Releasable)
    assert segmenter.name == "sam_vit_b"
    segmenter.release()  # nothing loaded yet: nothing to do
    assert loads == []
    model = segmenter.load()
    segmenter.release()
    assert segmenter.load() is model, "built once, kept across images"
    assert loads == ["sam_vit_b"]
    assert next(model.parameters()).device.type == "cpu"
    assert [type(block.attn) for block in model.image_encoder.blocks] == [FusedAttention] * 12


def test_bad_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="vit_x"):
        SamSegmenter(tmp_path / "sam.pth", model_type="vit_x")
    missing = SamSegmenter(tmp_path / "sam_vit_b_01ec64.pth")
    with pytest.raises(FileNotFoundError, match="sam_vit_b_01ec64.pth"):
        missing.segment(IMAGE, DETECTIONS)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="garbage.pth: not a SAM vit_b checkpoint"):
        SamSegmenter(garbage).load()
    other = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="other.pth: not a SAM vit_b checkpoint"):
        SamSegmenter(other).load()


@pytest.mark.skipif(importlib.util.find_spec("cv2") is not None, reason="opencv is installed")
def test_small_region_cleanup_without_opencv_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="opencv"):
        SamSegmenter(tmp_path / "sam.pth", auto=AutoMaskSettings(min_mask_region_area=100))


def test_models_folder_has_the_standard_layout_and_loads(tmp_path: Path, sam_checkpoint: Path) -> None:
    folder = write_models_folder(tmp_path / "models", sam_path=sam_checkpoint)
    assert folder.owlvit == tmp_path / "models/transformers/google/owlvit-base-patch32"
    assert folder.clip == tmp_path / "models/transformers/openai/clip-vit-base-patch32"
    assert folder.sam == tmp_path / "models/sam/sam_vit_b_01ec64.pth"
    assert folder.sam.stat().st_size == sam_checkpoint.stat().st_size
    detections = OwlDetector.from_pretrained(folder.owlvit, CLASS_QUERIES, default_threshold=0.0).detect(IMAGE)
    assert detections and {d.label for d in detections} <= {"bed", "lamp", "curtain"}
    assert ClipStyleScorer.from_pretrained(folder.clip, [], CLASS_QUERIES).label_regions([IMAGE])[0][0] in {
        "bed", "lamp", "curtain"}


def test_release_goes_through_the_offload_policy(sam_checkpoint: Path, monkeypatch) -> None:
    from alien_filters.models import device as devices

    calls: list[tuple[object, str]] = []
    monkeypatch.setattr(devices, "release_model", lambda m, d, mode: calls.append((m, mode)) or m)
    segmenter = SamSegmenter(sam_checkpoint)
    segmenter.release()
    assert calls == [], "nothing loaded: nothing to release"
    model = segmenter.load()
    segmenter.release()
    assert calls == [(model, "cpu")]
