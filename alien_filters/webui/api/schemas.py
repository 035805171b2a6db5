"""Request and response models of the /alien API (pydantic 1 and 2 alike).

Inpaint overrides are built from :data:`~alien_filters.core.settings.SETTING_BOUNDS`, the one spec the theme
check uses too, so the API answers 422 for exactly the values a theme file may not hold.
"""

from __future__ import annotations

from typing import Any, Dict, List

import pydantic
from pydantic import BaseModel, Field, StrictBool, StrictStr, conint, create_model

from ...core.run_options import StageChoices
from ...core.settings import SETTING_BOUNDS, Bound
from ...core.states import ImageStatus, JobState

PYDANTIC_V2 = pydantic.VERSION.startswith("2")
API_VERSION = 1

# Integer fields take JSON integers only, strings and bools are taken for strings and bools only: pydantic 1
# would otherwise turn 1.5 into 1 and 5 into "5" where pydantic 2 refuses them.
Seed = conint(strict=True, ge=0, le=2**32 - 1)
Limit = conint(strict=True, ge=1)


class StrictModel(BaseModel):
    """Base of every model: unknown fields are rejected (pydantic 1 and 2)."""

    if PYDANTIC_V2:
        model_config = pydantic.ConfigDict(extra="forbid")
    else:
        class Config:
            extra = "forbid"


def _override_field(bound: Bound) -> tuple[Any, Any]:
    if bound.kind is int:
        kind: Any = conint(strict=True, ge=int(bound.low), le=int(bound.high))
        return kind | None, Field(None, description=bound.description)
    return float | None, Field(None, ge=bound.low, le=bound.high, description=bound.description)


InpaintOverrides = create_model(
    "InpaintOverrides", __base__=StrictModel,
    **{name: _override_field(bound) for name, bound in SETTING_BOUNDS.items()},  # type: ignore[arg-type]
)
InpaintOverrides.__doc__ = "Inpaint settings replacing the theme's; each within the same bounds as a theme's."


def _listed(values: Any) -> str:
    return ", ".join(getattr(v, "value", v) for v in values)


class StageSwitches(StrictModel):
    restore: StrictBool = Field(True, description="Restore (SwinIR upscale) to the working size; off: plain resize")
    tag: StrictBool = Field(True, description="Detect object classes and interior style")
    segment: StrictBool = Field(True, description="Segment each class; off: detection boxes become the masks")
    inpaint: StrictBool = Field(True, description="Inpaint each mask; off: a dry run (tags, masks and plan only)")


class ProcessRequest(StrictModel):
    images: List[StrictStr] | None = Field(
        None, description="Images as base64 (or data: URLs); the answer carries the results. Give this or folder")
    names: List[StrictStr] | None = Field(None, description="A name per image (used in manifests); default image_N")
    folder: StrictStr | None = Field(
        None, description="A server folder inside the allowed roots; the answer is a job id at once")
    output_folder: StrictStr | None = Field(
        None, description="Where a folder job writes (inside the allowed roots); default: output folder/<name>")
    theme: StrictStr | None = Field(None, description="Theme name (GET /alien/themes); default: the Settings' theme")
    theme_yaml: StrictStr | None = Field(None, description="A whole theme as YAML text, instead of a name")
    stages: StageSwitches = Field(default_factory=StageSwitches, description="Which stages run")
    seed: Seed = Field(0, description="Base seed; each inpaint job derives its own")
    limit: Limit | None = Field(None, description="Process at most this many images of the folder")
    overrides: InpaintOverrides | None = Field(None, description="Inpaint settings replacing the theme's")
    save_previews: StrictBool | None = Field(None, description="Write preview sheets (folder jobs); default: Settings")
    save_masks: StrictBool | None = Field(None, description="Write coloured masks (folder jobs); default: Settings")
    return_previews: StrictBool = Field(False, description="Image requests: also return each preview sheet (JPEG)")
    detector: StrictStr | None = Field(None, description=f"Object detector: {_listed(StageChoices.DETECTORS)}")
    segmenter: StrictStr | None = Field(None, description=f"Segmenter: {_listed(StageChoices.SEGMENTERS)}")
    captions: StrictBool = Field(False, description="Also caption each image with the WebUI's BLIP (needs tag on): "
                                 "the manifest's tags.caption, and a NAME.caption file in folder jobs")
    control: StrictBool = Field(True, description="Run the theme's structure guidance (its rules' ControlNet units); "
                                "false: none (as process --no-control)")
    regional: StrictBool | None = Field(
        None, description="Merge overlapping jobs into regional diffusion calls; default: the theme's regional. Only "
        "the stand-alone diffusers inpainter merges: the WebUI's img2img makes one call per job (the manifest's "
        "calls say how the jobs ran)")


class ImageResultModel(StrictModel):
    name: str = Field(..., description="The image's name")
    status: str = Field(..., description=f"One of: {_listed(ImageStatus)}")
    image: str | None = Field(None, description="The result as base64 PNG (None for dry runs and failures)")
    preview: str | None = Field(None, description="The preview sheet as base64 JPEG, when asked for")
    manifest: Dict[str, Any] | None = Field(None, description="Tags, masks (RLE), plan, seeds, versions")
    message: str = Field("", description="Why it failed or where it stopped")


class ProcessResponse(StrictModel):
    images: List[ImageResultModel] = Field(default_factory=list, description="Results of an image request")
    job_id: str | None = Field(None, description="The job of a folder request (GET /alien/jobs/{id})")


class JobResultModel(StrictModel):
    input: str = Field(..., description="The input file")
    status: str = Field(..., description=f"One of: {_listed(ImageStatus)}")
    outputs: Dict[str, str] = Field(default_factory=dict, description="Output kind -> path under the output folder")
    message: str = Field("", description="Why it failed")
    restore_fallback: str | None = Field(
        None, description="Why the restorer only resized this image (its model could not run); null when restored")


class JobResponse(StrictModel):
    id: str = Field(..., description="Job id")
    state: str = Field(..., description=f"One of: {_listed(JobState)}")
    progress: float = Field(..., description="0 to 1")
    text: str = Field("", description="What the job is doing")
    total: int = Field(0, description="Images found")
    folder: str = Field(..., description="Input folder")
    output_folder: str = Field(..., description="Output folder")
    results: List[JobResultModel] = Field(default_factory=list, description="Per-image results (when finished)")
    error: str | None = Field(None, description="Why the job failed")
    stopped_at: str | None = Field(None, description="Where an interrupted or cancelled job stopped")


class ThemeSummary(StrictModel):
    name: str = Field(..., description="Theme name")
    description: str = Field("", description="What the theme does")
    source: str = Field("", description="File it came from")
    rules: int = Field(0, description="Number of rules")


class ThemesResponse(StrictModel):
    themes: List[ThemeSummary] = Field(default_factory=list, description="Built-in and user themes")
    errors: List[str] = Field(default_factory=list, description="Theme files that could not be loaded")


class ThemeResponse(StrictModel):
    theme: Dict[str, Any] = Field(..., description="The whole theme")
    hash: str = Field(..., description="sha256 of the theme's content")


class VersionResponse(StrictModel):
    name: str = Field("alien-filters", description="Extension name")
    version: str = Field(..., description="Extension version")
    api: int = Field(API_VERSION, description="API version")


class ErrorResponse(StrictModel):
    error: str = Field(..., description="HTTP reason")
    message: str = Field(..., description="What went wrong")
    detail: Any = Field(None, description="Details (validation errors)")


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema() if PYDANTIC_V2 else model.schema()


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump() if PYDANTIC_V2 else model.dict()
