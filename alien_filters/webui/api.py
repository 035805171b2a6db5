"""The /alien HTTP API: typed request/response models (pydantic 1 and 2), auth, body cap, path checks.

Routes: POST /alien/process, GET /alien/jobs/{id}, POST /alien/jobs/{id}/cancel, GET /alien/themes,
GET /alien/themes/{name}, GET /alien/schema, GET /alien/version. Every error is JSON
``{"error": <reason>, "message": <what went wrong>, "detail": ...}``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
from pathlib import Path
from secrets import compare_digest
from typing import Any, Callable, Dict, List

import pydantic
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPBasicCredentials
from PIL import Image
from pydantic import BaseModel, Field, StrictBool, StrictStr, conint
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.status import HTTP_401_UNAUTHORIZED, HTTP_413_REQUEST_ENTITY_TOO_LARGE

from .. import __version__
from ..factory import StageChoices
from ..imageio import ImageLoadError
from ..inputs import discover
from ..pipeline import PipelineOptions
from ..themes import ThemeError, UnknownThemeError
from . import console
from .basic_auth import BasicWhenConfigured
from .jobs import Job
from .paths import PathNotAllowed, outside_roots, resolve_inside
from .service import AlienService, RunOptions, with_overrides

PYDANTIC_V2 = pydantic.VERSION.startswith("2")
API_VERSION = 1


# Integer fields take JSON integers only, strings and bools are taken for strings and bools only: pydantic 1
# would otherwise turn 1.5 into 1 and 5 into "5" where pydantic 2 refuses them.
Steps = conint(strict=True, ge=1, le=150)
MaskGrow = conint(strict=True, ge=0, le=256)
MaskFeather = conint(strict=True, ge=0, le=64)
CropPadding = conint(strict=True, ge=0, le=512)
Seed = conint(strict=True, ge=0, le=2**32 - 1)
Limit = conint(strict=True, ge=1)


class StrictModel(BaseModel):
    """Base of every model: unknown fields are rejected (pydantic 1 and 2)."""

    if PYDANTIC_V2:
        model_config = pydantic.ConfigDict(extra="forbid")
    else:
        class Config:
            extra = "forbid"


class StageSwitches(StrictModel):
    restore: StrictBool = Field(True, description="Restore (SwinIR upscale) to the working size; off: plain resize")
    tag: StrictBool = Field(True, description="Detect object classes and interior style")
    segment: StrictBool = Field(True, description="Segment each class; off: detection boxes become the masks")
    inpaint: StrictBool = Field(True, description="Inpaint each mask; off: a dry run (tags, masks and plan only)")


class InpaintOverrides(StrictModel):
    denoising_strength: float | None = Field(None, ge=0.0, le=1.0, description="Denoising strength, 0 to 1")
    steps: Steps | None = Field(None, description="Sampling steps")
    cfg_scale: float | None = Field(None, ge=1.0, le=30.0, description="Classifier-free guidance scale")
    mask_grow: MaskGrow | None = Field(None, description="Pixels each mask grows before inpainting")
    mask_feather: MaskFeather | None = Field(None, description="Soft edge (pixels) inside each mask")
    crop_padding: CropPadding | None = Field(None, description="Context pixels around each mask's crop")


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
    detector: StrictStr | None = Field(None, description=f"Object detector: {', '.join(StageChoices.DETECTORS)}")
    segmenter: StrictStr | None = Field(None, description=f"Segmenter: {', '.join(StageChoices.SEGMENTERS)}")


class ImageResultModel(StrictModel):
    name: str = Field(..., description="The image's name")
    status: str = Field(..., description="done, planned (dry run), failed or interrupted")
    image: str | None = Field(None, description="The result as base64 PNG (None for dry runs and failures)")
    preview: str | None = Field(None, description="The preview sheet as base64 JPEG, when asked for")
    manifest: Dict[str, Any] | None = Field(None, description="Tags, masks (RLE), plan, seeds, versions")
    message: str = Field("", description="Why it failed or where it stopped")


class ProcessResponse(StrictModel):
    images: List[ImageResultModel] = Field(default_factory=list, description="Results of an image request")
    job_id: str | None = Field(None, description="The job of a folder request (GET /alien/jobs/{id})")


class JobResultModel(StrictModel):
    input: str = Field(..., description="The input file")
    status: str = Field(..., description="done, planned, skipped, failed or interrupted")
    outputs: Dict[str, str] = Field(default_factory=dict, description="Output kind -> path under the output folder")
    message: str = Field("", description="Why it failed")


class JobResponse(StrictModel):
    id: str = Field(..., description="Job id")
    state: str = Field(..., description="queued, running, done, failed, cancelled or interrupted")
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


class ApiError(HTTPException):
    """An error answered as JSON with a message."""


# -- auth -------------------------------------------------------------------------------------------------------


def parse_credentials(api_auth: str | None) -> dict[str, str]:
    """``--api-auth "user:pass,user2:pass2"`` as the WebUI's Api parses it."""
    return dict(item.split(":", 1) for item in (api_auth or "").split(",") if ":" in item)


def auth_dependency(credentials: Callable[[], dict[str, str]]) -> Callable:
    """A dependency honouring --api-auth like ``modules.api.api.Api.auth`` (HTTP Basic, compare_digest)."""
    basic = BasicWhenConfigured(lambda: bool(credentials()))

    def require_auth(given: HTTPBasicCredentials | None = Depends(basic)) -> None:  # noqa: B008
        allowed = credentials()
        if not allowed:
            return
        if given is not None and given.username in allowed:
            if compare_digest(given.password.encode("utf8"), allowed[given.username].encode("utf8")):
                return
        raise ApiError(HTTP_401_UNAUTHORIZED, "Incorrect username or password", headers={"WWW-Authenticate": "Basic"})

    return require_auth


# -- body cap and JSON errors -----------------------------------------------------------------------------------


def error_response(status: int, message: str, detail: Any = None, headers: dict | None = None) -> JSONResponse:
    from http import HTTPStatus

    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return JSONResponse({"error": reason, "message": message, "detail": detail}, status_code=status, headers=headers)


def capped_route_class(max_bytes: Callable[[], int]) -> type[APIRoute]:
    """An APIRoute that refuses bodies over ``max_bytes()`` (413) and answers every error as JSON."""

    class CappedRoute(APIRoute):
        def get_route_handler(self) -> Callable:
            handler = super().get_route_handler()

            async def capped(request: Request):
                limit = max_bytes()
                declared = request.headers.get("content-length")
                too_large = error_response(HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                                           f"request body larger than {limit} bytes (Settings > Alien Filters)")
                if declared is not None and declared.isdigit() and int(declared) > limit:
                    return too_large
                if request.method in ("POST", "PUT", "PATCH"):
                    body = bytearray()
                    async for chunk in request.stream():
                        body += chunk
                        if len(body) > limit:
                            return too_large
                    request._body = bytes(body)  # starlette re-reads the body from here
                try:
                    return await handler(request)
                except StarletteHTTPException as exc:  # fastapi's HTTPException and ours are subclasses
                    return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))
                except RequestValidationError as exc:
                    errors = exc.errors()
                    first = errors[0] if errors else {}
                    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
                    message = f"invalid request: {where}: {first.get('msg', 'invalid')}" if first else "invalid request"
                    return error_response(422, message, detail=_jsonable(errors))
                except Exception as exc:  # never a bare traceback to the client; the console gets it
                    console.unexpected(f"{request.method} {request.url.path} failed")
                    return error_response(500, f"{type(exc).__name__}: {exc}")

            return capped

    return CappedRoute


def _jsonable(errors: list) -> list:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder([{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors])


# -- helpers ----------------------------------------------------------------------------------------------------


def decode_base64(data: str, name: str) -> bytes:
    """Bytes of a base64 string or data: URL; ApiError 400 naming the image if it is not base64."""
    text = data.split(",", 1)[1] if data.startswith("data:") and "," in data else data
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{name}: not valid base64 image data") from None


def encode_image(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"quality": 88} if fmt == "JPEG" else {}))
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def job_response(job: Job) -> JobResponse:
    return JobResponse(
        id=job.id, state=job.state, progress=job.progress, text=job.text, total=job.total, folder=job.folder,
        output_folder=job.out_dir, error=job.error, stopped_at=job.stopped_at,
        results=[JobResultModel(input=r.input, status=r.status, outputs=r.outputs, message=r.message)
                 for r in job.results],
    )


# -- routes -----------------------------------------------------------------------------------------------------


class AlienApi:
    """The /alien routes over an :class:`AlienService`."""

    def __init__(self, service: AlienService, credentials: Callable[[], dict[str, str]]) -> None:
        self.service = service
        self.credentials = credentials

    def router(self, prefix: str = "/alien") -> APIRouter:
        router = APIRouter(
            prefix=prefix,
            tags=["Alien Filters"],
            dependencies=[Depends(auth_dependency(self.credentials))],
            route_class=capped_route_class(lambda: self.service.settings().max_request_bytes),
            responses={code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 413, 422, 500)},
        )
        router.add_api_route("/process", self.process, methods=["POST"], response_model=ProcessResponse)
        router.add_api_route("/jobs/{job_id}", self.get_job, methods=["GET"], response_model=JobResponse)
        router.add_api_route("/jobs/{job_id}/cancel", self.cancel_job, methods=["POST"], response_model=JobResponse)
        router.add_api_route("/themes", self.themes, methods=["GET"], response_model=ThemesResponse)
        router.add_api_route("/themes/{name}", self.theme, methods=["GET"], response_model=ThemeResponse)
        router.add_api_route("/schema", self.schema, methods=["GET"])
        router.add_api_route("/version", self.version, methods=["GET"], response_model=VersionResponse)
        return router

    def register(self, app: FastAPI, prefix: str = "/alien") -> None:
        app.include_router(self.router(prefix))

    def run_options(self, req: ProcessRequest) -> RunOptions:
        try:
            theme = self.service.theme(req.theme, req.theme_yaml)
            overrides = {k: v for k, v in dump(req.overrides).items() if v is not None} if req.overrides else {}
            theme = with_overrides(theme, overrides)
        except UnknownThemeError as exc:
            raise ApiError(404, str(exc)) from None
        except (ThemeError, ValueError) as exc:
            raise ApiError(422, str(exc)) from None
        choices = StageChoices(detector=req.detector or StageChoices.detector,
                               segmenter=req.segmenter or StageChoices.segmenter)
        if choices.detector not in StageChoices.DETECTORS or choices.segmenter not in StageChoices.SEGMENTERS:
            raise ApiError(422, f"unknown detector {choices.detector!r} or segmenter {choices.segmenter!r}; "
                                f"detectors: {', '.join(StageChoices.DETECTORS)}; "
                                f"segmenters: {', '.join(StageChoices.SEGMENTERS)}")
        settings = self.service.settings()
        s = req.stages
        return RunOptions(choices=choices,
            theme=theme, seed=req.seed, limit=req.limit,
            options=PipelineOptions(restore=s.restore, tag=s.tag, segment=s.segment, inpaint=s.inpaint),
            save_previews=settings.save_previews if req.save_previews is None else req.save_previews,
            save_masks=settings.save_masks if req.save_masks is None else req.save_masks,
        )

    def process(self, req: ProcessRequest) -> ProcessResponse:
        if bool(req.images) == bool(req.folder):
            raise ApiError(422, "give either 'images' (base64) or 'folder' (a server folder), not both or neither")
        if req.images is not None and req.names is not None and len(req.names) != len(req.images):
            raise ApiError(422, f"'names' has {len(req.names)} entries for {len(req.images)} images")
        if req.folder:
            return self._process_folder(req)
        run = dataclasses.replace(self.run_options(req), save_previews=req.return_previews, save_masks=False)
        names = req.names or [f"image_{i + 1}" for i in range(len(req.images))]
        try:
            uploads = [self.service.decode_upload(name, decode_base64(b64, name))
                       for name, b64 in zip(names, req.images, strict=True)]
        except ImageLoadError as exc:
            raise ApiError(422, str(exc)) from None
        outcomes = self.service.process_images(uploads, run)
        return ProcessResponse(images=[
            ImageResultModel(
                name=o.name, status=o.status, message=o.message, manifest=o.manifest,
                image=encode_image(o.result.final) if o.result is not None and o.result.final is not None else None,
                preview=encode_image(o.preview.convert("RGB"), "JPEG") if o.preview is not None else None,
            ) for o in outcomes])

    def _process_folder(self, req: ProcessRequest) -> ProcessResponse:
        settings = self.service.settings()
        roots = settings.roots()
        try:
            folder = resolve_inside(req.folder, roots)
            out_dir = resolve_inside(req.output_folder or str(Path(settings.output_dir) / folder.name), roots)
        except PathNotAllowed as exc:
            raise ApiError(403, str(exc)) from None
        linked_out = outside_roots([p for p in out_dir.rglob("*") if p.is_symlink()], roots) if out_dir.is_dir() else []
        if linked_out:
            raise ApiError(403, f"{linked_out[0]}: a link inside the output folder leads outside the allowed roots")
        if not folder.is_dir():
            raise ApiError(404, f"{req.folder}: no such folder")
        items, _ = discover([folder], exclude=out_dir)
        escaping = outside_roots([item.path for item in items], roots)
        if escaping:
            raise ApiError(403, f"{escaping[0]}: links to a file outside the allowed roots")
        job = self.service.submit_folder(folder, out_dir, self.run_options(req))
        return ProcessResponse(job_id=job.id)

    def get_job(self, job_id: str) -> JobResponse:
        job = self.service.registry.get(job_id)
        if job is None:
            raise ApiError(404, f"no job {job_id!r}")
        return job_response(job)

    def cancel_job(self, job_id: str) -> JobResponse:
        job = self.service.registry.cancel(job_id)
        if job is None:
            raise ApiError(404, f"no job {job_id!r}")
        return job_response(job)

    def themes(self) -> ThemesResponse:
        catalog = self.service.catalog()
        return ThemesResponse(
            themes=[ThemeSummary(name=t.name, description=t.description, source=t.source, rules=len(t.rules))
                    for _, t in sorted(catalog.themes.items())],
            errors=[str(e) for e in catalog.errors],
        )

    def theme(self, name: str) -> ThemeResponse:
        theme = self.service.catalog().themes.get(name)
        if theme is None:
            raise ApiError(404, f"no theme named {name!r}; GET /alien/themes lists them")
        return ThemeResponse(theme=theme.to_dict(), hash=theme.hash())

    def schema(self) -> dict[str, Any]:
        return model_schema(ProcessRequest)

    def version(self) -> VersionResponse:
        return VersionResponse(version=__version__)
