"""The /alien routes over an :class:`~alien_filters.webui.service.AlienService`.

Routes: POST /alien/process, GET /alien/jobs/{id}, POST /alien/jobs/{id}/cancel, GET /alien/themes,
GET /alien/themes/{name}, GET /alien/schema, GET /alien/version. Every error is JSON
``{"error": <reason>, "message": <what went wrong>, "detail": ...}`` (see :mod:`.errors`); 503 when the stages
cannot be set up on this server (a model missing and not downloadable: the message names its file, URL and folder).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
from pathlib import Path
from typing import Any, Callable, Mapping

from fastapi import APIRouter, Depends, FastAPI
from PIL import Image

from ... import __version__
from ...batch.atomic import png_info
from ...batch.discovery import discover
from ...batch.imageio import ImageLoadError
from ...core.infotext import png_text
from ...core.pipeline import PipelineOptions
from ...core.run_options import InvalidChoiceError, StageChoices, with_overrides
from ...core.theme import without_control
from ...themes import ThemeError, UnknownThemeError
from .. import console
from ..jobs import Job
from ..paths import PathNotAllowed, outside_roots, resolve_inside
from ..service import AlienService, RunOptions, StagesUnavailable
from .auth import auth_dependency
from .errors import ApiError, capped_route_class
from .schemas import (
    ErrorResponse,
    ImageResultModel,
    JobResponse,
    JobResultModel,
    ProcessRequest,
    ProcessResponse,
    ThemeResponse,
    ThemesResponse,
    ThemeSummary,
    VersionResponse,
    dump,
    model_schema,
)


def decode_base64(data: str, name: str) -> bytes:
    """Bytes of a base64 string or data: URL; ApiError 400 naming the image if it is not base64."""
    text = data.split(",", 1)[1] if data.startswith("data:") and "," in data else data
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{name}: not valid base64 image data") from None


def encode_image(image: Image.Image, fmt: str = "PNG", text: Mapping[str, str] | None = None) -> str:
    """Base64 of ``image`` as ``fmt``; ``text``: PNG text chunks (the result's infotext, see core.infotext)."""
    buffer = io.BytesIO()
    extra: dict[str, Any] = {"quality": 88} if fmt == "JPEG" else {"pnginfo": png_info(text)} if text else {}
    image.save(buffer, format=fmt, **extra)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def job_response(job: Job) -> JobResponse:
    return JobResponse(
        id=job.id, state=job.state, progress=job.progress, text=job.text, total=job.total, folder=job.folder,
        output_folder=job.out_dir, error=job.error, stopped_at=job.stopped_at,
        results=[JobResultModel(input=r.input, status=r.status, outputs=r.outputs, message=r.message,
                                restore_fallback=r.restore_fallback)
                 for r in job.results],
    )


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
            responses={code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 413, 422, 500, 503)},
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
            if not req.control:
                theme = without_control(theme)
        except UnknownThemeError as exc:
            raise ApiError(404, str(exc)) from None
        except (ThemeError, ValueError) as exc:
            raise ApiError(422, str(exc)) from None
        try:
            choices = StageChoices(detector=req.detector or StageChoices.detector,
                                   segmenter=req.segmenter or StageChoices.segmenter)
        except InvalidChoiceError as exc:
            raise ApiError(422, str(exc)) from None
        settings = self.service.settings()
        s = req.stages
        return RunOptions(choices=choices,
            theme=theme, seed=req.seed, limit=req.limit,
            options=PipelineOptions(restore=s.restore, tag=s.tag, segment=s.segment, inpaint=s.inpaint,
                                    caption=req.captions, regional=req.regional),
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
        try:
            outcomes = self.service.process_images(uploads, run)
        except StagesUnavailable as exc:  # the server lacks a model (or its setup is wrong): the message says which
            console.failed("POST /alien/process", str(exc))
            raise ApiError(503, str(exc)) from None
        return ProcessResponse(images=[
            ImageResultModel(
                name=o.name, status=o.status, message=o.message, manifest=o.manifest,
                image=encode_image(o.result.final, text=png_text(o.result))
                if o.result is not None and o.result.final is not None else None,
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
