"""modules/processing.py stand-in: the real dataclass fields (A1111 v1.10.1), the real mask handling
("Only masked" crop with padding, int mask blur, overlay of the original), and a deterministic fake "model".

The fake sampler blends each crop towards a colour derived from the prompt and seed (strength =
denoising_strength) and disturbs every crop pixel slightly, like a VAE round trip; what survives outside the
mask is only what the WebUI's own overlay restores. It walks ``steps`` sampling steps, updating shared.state
and stopping on state.interrupted like the k-diffusion samplers do. Each result carries the real infotext
(create_infotext) in ``Processed.infotexts`` and in its ``info["parameters"]``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageOps
from scipy.ndimage import convolve1d

from modules import images, infotext_utils, masking, script_callbacks, sd_samplers, sd_schedulers, shared
from modules.shared import opts, state

calls: list = []
"""Every processing object that went through process_images (tests inspect it)."""


@dataclass(repr=False)
class StableDiffusionProcessing:
    sd_model: object = None
    outpath_samples: str = None
    outpath_grids: str = None
    prompt: str = ""
    prompt_for_display: str = None
    negative_prompt: str = ""
    styles: list[str] = None
    seed: int = -1
    subseed: int = -1
    subseed_strength: float = 0
    seed_resize_from_h: int = -1
    seed_resize_from_w: int = -1
    seed_enable_extras: bool = True
    sampler_name: str = None
    scheduler: str = None
    batch_size: int = 1
    n_iter: int = 1
    steps: int = 50
    cfg_scale: float = 7.0
    width: int = 512
    height: int = 512
    restore_faces: bool = None
    tiling: bool = None
    do_not_save_samples: bool = False
    do_not_save_grid: bool = False
    extra_generation_params: dict[str, Any] = None
    overlay_images: list = None
    eta: float = None
    do_not_reload_embeddings: bool = False
    denoising_strength: float = None
    ddim_discretize: str = None
    s_min_uncond: float = None
    s_churn: float = None
    s_tmax: float = None
    s_tmin: float = None
    s_noise: float = None
    override_settings: dict[str, Any] = None
    override_settings_restore_afterwards: bool = True
    sampler_index: int = None
    refiner_checkpoint: str = None
    refiner_switch_at: float = None
    token_merging_ratio = 0
    token_merging_ratio_hr = 0
    disable_extra_networks: bool = False
    firstpass_image: Image = None

    scripts_value: Any = field(default=None, init=False)
    script_args_value: list = field(default=None, init=False)
    scripts_setup_complete: bool = field(default=False, init=False)

    cached_uc = [None, None]
    cached_c = [None, None]

    comments: dict = None
    sampler: Any = field(default=None, init=False)
    is_using_inpainting_conditioning: bool = field(default=False, init=False)
    paste_to: tuple | None = field(default=None, init=False)
    is_hr_pass: bool = field(default=False, init=False)
    c: tuple = field(default=None, init=False)
    uc: tuple = field(default=None, init=False)
    rng: Any = field(default=None, init=False)
    step_multiplier: int = field(default=1, init=False)
    color_corrections: list = field(default=None, init=False)
    all_prompts: list = field(default=None, init=False)
    all_negative_prompts: list = field(default=None, init=False)
    all_seeds: list = field(default=None, init=False)
    all_subseeds: list = field(default=None, init=False)
    iteration: int = field(default=0, init=False)
    main_prompt: str = field(default=None, init=False)
    main_negative_prompt: str = field(default=None, init=False)
    prompts: list = field(default=None, init=False)
    negative_prompts: list = field(default=None, init=False)
    seeds: list = field(default=None, init=False)
    subseeds: list = field(default=None, init=False)
    extra_network_data: dict = field(default=None, init=False)
    user: str = field(default=None, init=False)
    sd_model_name: str = field(default=None, init=False)
    sd_model_hash: str = field(default=None, init=False)
    sd_vae_name: str = field(default=None, init=False)
    sd_vae_hash: str = field(default=None, init=False)
    is_api: bool = field(default=False, init=False)

    def __post_init__(self):
        self.comments = {}
        if self.styles is None:
            self.styles = []
        self.sampler_noise_scheduler_override = None
        self.extra_generation_params = self.extra_generation_params or {}
        self.override_settings = self.override_settings or {}
        self.script_args = self.script_args or {}
        self.closed = False

    @property
    def sd_model(self):  # noqa: F811 - the real class shadows its field with a property too
        return shared.sd_model

    @sd_model.setter
    def sd_model(self, value):
        pass

    @property
    def scripts(self):
        return self.scripts_value

    @scripts.setter
    def scripts(self, value):
        self.scripts_value = value
        if self.scripts_value and self.script_args_value and not self.scripts_setup_complete:
            self.setup_scripts()

    @property
    def script_args(self):
        return self.script_args_value

    @script_args.setter
    def script_args(self, value):
        self.script_args_value = value
        if self.scripts_value and self.script_args_value and not self.scripts_setup_complete:
            self.setup_scripts()

    def setup_scripts(self):
        self.scripts_setup_complete = True
        self.scripts.setup_scrips(self, is_ui=not self.is_api)

    def comment(self, text):
        self.comments[text] = 1

    def close(self):
        self.sampler = None
        self.c = None
        self.uc = None
        self.closed = True

    def save_samples(self) -> bool:
        return opts.samples_save and not self.do_not_save_samples and not (state.interrupted or state.skipped)


@dataclass(repr=False)
class StableDiffusionProcessingImg2Img(StableDiffusionProcessing):
    init_images: list = None
    resize_mode: int = 0
    denoising_strength: float = 0.75
    image_cfg_scale: float = None
    mask: Any = None
    mask_blur_x: int = 4
    mask_blur_y: int = 4
    mask_blur: int = None
    mask_round: bool = True
    inpainting_fill: int = 0
    inpaint_full_res: bool = True
    inpaint_full_res_padding: int = 0
    inpainting_mask_invert: int = 0
    initial_noise_multiplier: float = None
    latent_mask: Image = None
    force_task_id: str = None

    image_mask: Any = field(default=None, init=False)
    nmask: Any = field(default=None, init=False)
    image_conditioning: Any = field(default=None, init=False)
    init_img_hash: str = field(default=None, init=False)
    mask_for_overlay: Image = field(default=None, init=False)
    init_latent: Any = field(default=None, init=False)

    def __post_init__(self):
        super().__post_init__()
        self.image_mask = self.mask
        self.mask = None
        if self.initial_noise_multiplier is None:
            self.initial_noise_multiplier = opts.initial_noise_multiplier

    @property
    def mask_blur(self):  # noqa: F811 - as in the real class
        if self.mask_blur_x == self.mask_blur_y:
            return self.mask_blur_x
        return None

    @mask_blur.setter
    def mask_blur(self, value):
        if isinstance(value, int):
            self.mask_blur_x = value
            self.mask_blur_y = value

    def init(self, all_prompts, all_seeds, all_subseeds):
        """The mask and init-image preparation of v1.10.1 (processing.py, Img2Img.init)."""
        self.extra_generation_params["Denoising strength"] = self.denoising_strength
        crop_region = None
        image_mask = self.image_mask
        if image_mask is not None:
            image_mask = create_binary_mask(image_mask, round=self.mask_round)
            if self.inpainting_mask_invert:
                image_mask = ImageOps.invert(image_mask)
            if self.mask_blur_x > 0:
                image_mask = _gaussian_blur(image_mask, self.mask_blur_x, axis=1)
            if self.mask_blur_y > 0:
                image_mask = _gaussian_blur(image_mask, self.mask_blur_y, axis=0)
            if self.mask_blur_x > 0 or self.mask_blur_y > 0:
                self.extra_generation_params["Mask blur"] = self.mask_blur
            if self.inpaint_full_res:
                self.mask_for_overlay = image_mask
                mask = image_mask.convert('L')
                crop_region = masking.get_crop_region_v2(mask, self.inpaint_full_res_padding)
                if crop_region:
                    crop_region = masking.expand_crop_region(
                        crop_region, self.width, self.height, mask.width, mask.height)
                    x1, y1, x2, y2 = crop_region
                    mask = mask.crop(crop_region)
                    image_mask = images.resize_image(2, mask, self.width, self.height)
                    self.paste_to = (x1, y1, x2 - x1, y2 - y1)
                    self.extra_generation_params["Inpaint area"] = "Only masked"
                    self.extra_generation_params["Masked area padding"] = self.inpaint_full_res_padding
                else:
                    crop_region = None
                    image_mask = None
                    self.mask_for_overlay = None
                    self.inpaint_full_res = False
                    self.comment('Unable to perform "Inpaint Only mask" because mask is blank, switch to img2img mode.')
            else:
                image_mask = images.resize_image(self.resize_mode, image_mask, self.width, self.height)
                np_mask = np.clip(np.array(image_mask).astype(np.float32) * 2, 0, 255).astype(np.uint8)
                self.mask_for_overlay = Image.fromarray(np_mask)
            self.overlay_images = []

        self.crops = []
        for img in self.init_images:
            if image_mask is not None and crop_region is not None and img.size != self.image_mask.size:
                raise ValueError(f"init image {img.size} and mask {self.image_mask.size} differ in size")
            image = images.flatten(img, opts.img2img_background_color)
            if crop_region is None and self.resize_mode != 3:
                image = images.resize_image(self.resize_mode, image, self.width, self.height)
            if image_mask is not None:
                if self.mask_for_overlay.size != (image.width, image.height):
                    self.mask_for_overlay = images.resize_image(
                        self.resize_mode, self.mask_for_overlay, image.width, image.height)
                image_masked = Image.new('RGBa', (image.width, image.height))
                image_masked.paste(image.convert("RGBA").convert("RGBa"),
                                   mask=ImageOps.invert(self.mask_for_overlay.convert('L')))
                self.overlay_images.append(image_masked.convert('RGBA'))
            if crop_region is not None:
                image = image.crop(crop_region)
                image = images.resize_image(2, image, self.width, self.height)
            self.crops.append(image)
        self.latent_blend_mask = image_mask
        if len(self.crops) == 1:
            self.crops = self.crops * self.batch_size
            if self.overlay_images is not None:
                self.overlay_images = self.overlay_images * self.batch_size
        elif len(self.crops) <= self.batch_size:
            self.batch_size = len(self.crops)
        else:
            raise RuntimeError(f"bad number of images passed: {len(self.crops)}; expecting {self.batch_size} or less")

    def sample(self, seeds: list[int], prompts: list[str]) -> list[Image.Image]:
        """The fake model: steps with state updates, interrupt between steps, latent-style mask blend."""
        steps = self.steps if opts.img2img_fix_steps else max(1, int(self.steps * self.denoising_strength))
        state.sampling_steps = steps
        if self.scripts is not None:
            self.scripts.process_before_every_sampling(p=self, x=None, noise=None, c=None, uc=None)
        done = 0
        for step in range(steps):
            if state.interrupted or state.skipped:  # CFGDenoiser.forward raises InterruptedException here
                break
            state.sampling_step = step
            shared.total_tqdm.update()  # the console's "Total progress" bar (sd_samplers_common.update_step)
            script_callbacks.cfg_denoiser_callback(script_callbacks.CFGDenoiserParams(
                None, None, None, step, steps, None, None, None))
            done = step + 1
        out = []
        for crop, seed, prompt in zip(self.crops, seeds, prompts, strict=True):
            rng = np.random.default_rng(seed)
            base = np.asarray(crop, dtype=np.float32)
            target = np.array(_prompt_colour(prompt), dtype=np.float32) + rng.normal(0, 12, base.shape)
            strength = self.denoising_strength * done / steps
            result = base * (1 - strength) + target * strength
            control = getattr(shared.sd_model, "control", None)  # what a ControlNet hooked into the "UNet"
            if control is not None:
                result = control.apply(result)
            if self.latent_blend_mask is not None:
                m = (np.asarray(self.latent_blend_mask, dtype=np.float32) / 255.0)[..., None]
                result = base * (1 - m) + result * m
            result = result + rng.normal(0, 2.0, base.shape)  # a VAE round trip never returns the exact pixels
            out.append(Image.fromarray(np.clip(np.rint(result), 0, 255).astype(np.uint8)))
        return out


class Processed:
    def __init__(self, p: StableDiffusionProcessing, images_list, seed=-1, info="", subseed=None, all_prompts=None,
                 all_negative_prompts=None, all_seeds=None, all_subseeds=None, index_of_first_image=0,
                 infotexts=None, comments=""):
        self.images = images_list
        self.prompt = p.prompt
        self.negative_prompt = p.negative_prompt
        self.seed = seed
        self.subseed = subseed
        self.info = info
        self.comments = "".join(f"{comment}\n" for comment in p.comments)
        self.width = p.width
        self.height = p.height
        self.sampler_name = p.sampler_name
        self.cfg_scale = p.cfg_scale
        self.steps = p.steps
        self.batch_size = p.batch_size
        self.denoising_strength = getattr(p, 'denoising_strength', None)
        self.extra_generation_params = p.extra_generation_params
        self.index_of_first_image = index_of_first_image
        self.job_timestamp = state.job_timestamp
        self.all_prompts = all_prompts or p.all_prompts or [self.prompt]
        self.all_negative_prompts = all_negative_prompts or p.all_negative_prompts or [self.negative_prompt]
        self.all_seeds = all_seeds or p.all_seeds or [self.seed]
        self.all_subseeds = all_subseeds or p.all_subseeds or [self.subseed]
        self.infotexts = infotexts or [info] * len(images_list)


def create_binary_mask(image, round=True):
    if image.mode == 'RGBA' and image.getextrema()[-1] != (255, 255):
        if round:
            image = image.split()[-1].convert("L").point(lambda x: 255 if x > 128 else 0)
        else:
            image = image.split()[-1].convert("L")
    else:
        image = image.convert('L')
    return image


def uncrop(image, dest_size, paste_loc):
    x, y, w, h = paste_loc
    base_image = Image.new('RGBA', dest_size)
    image = images.resize_image(1, image, w, h)
    base_image.paste(image, (x, y))
    return base_image


def apply_overlay(image, paste_loc, overlay):
    if overlay is None:
        return image, image.copy()
    if paste_loc is not None:
        image = uncrop(image, (overlay.width, overlay.height), paste_loc)
    original_denoised_image = image.copy()
    image = image.convert('RGBA')
    image.alpha_composite(overlay)
    return image.convert('RGB'), original_denoised_image


def program_version():
    import launch

    res = launch.git_tag()
    if res == "<none>":
        res = None
    return res


def create_infotext(p, all_prompts, all_seeds, all_subseeds, comments=None, iteration=0, position_in_batch=0,
                    use_main_prompt=False, index=None, all_negative_prompts=None):
    """processing.create_infotext of v1.10.1: the keys in its order and its formatting. Keys fed by what the
    stand-in lacks (face restoration, FP8, VAE, variation seeds, ENSD, token merging, RNG, tiling, user) are
    None here, as they are in the WebUI with its default settings, and so left out like there."""
    if use_main_prompt:
        index = 0
    elif index is None:
        index = position_in_batch + iteration * p.batch_size
    if all_negative_prompts is None:
        all_negative_prompts = p.all_negative_prompts
    clip_skip = getattr(p, 'clip_skip', opts.CLIP_stop_at_last_layers)
    prompt_text = p.main_prompt if use_main_prompt else all_prompts[index]
    negative_prompt = p.main_negative_prompt if use_main_prompt else all_negative_prompts[index]
    generation_params = {
        "Steps": p.steps,
        "Sampler": p.sampler_name,
        "Schedule type": p.scheduler,
        "CFG scale": p.cfg_scale,
        "Image CFG scale": getattr(p, 'image_cfg_scale', None),
        "Seed": p.all_seeds[0] if use_main_prompt else all_seeds[index],
        "Face restoration": opts.face_restoration_model if p.restore_faces else None,
        "Size": f"{p.width}x{p.height}",
        "Model hash": p.sd_model_hash if opts.add_model_hash_to_info else None,
        "Model": p.sd_model_name if opts.add_model_name_to_info else None,
        "VAE hash": p.sd_vae_hash if opts.add_vae_hash_to_info else None,
        "VAE": p.sd_vae_name if opts.add_vae_name_to_info else None,
        "Variation seed": (None if p.subseed_strength == 0 else (
            p.all_subseeds[0] if use_main_prompt else all_subseeds[index])),
        "Variation seed strength": (None if p.subseed_strength == 0 else p.subseed_strength),
        "Seed resize from": (None if p.seed_resize_from_w <= 0 or p.seed_resize_from_h <= 0
                             else f"{p.seed_resize_from_w}x{p.seed_resize_from_h}"),
        "Denoising strength": p.extra_generation_params.get("Denoising strength"),
        "Clip skip": None if clip_skip <= 1 else clip_skip,
        "Init image hash": getattr(p, 'init_img_hash', None),
        "Tiling": "True" if p.tiling else None,
        **p.extra_generation_params,
        "Version": program_version() if opts.add_version_to_infotext else None,
    }
    generation_params_text = ", ".join(
        [k if k == v else f'{k}: {infotext_utils.quote(v)}' for k, v in generation_params.items() if v is not None])
    negative_prompt_text = f"\nNegative prompt: {negative_prompt}" if negative_prompt else ""
    return f"{prompt_text}{negative_prompt_text}\n{generation_params_text}".strip()


def process_images(p: StableDiffusionProcessing) -> Processed:
    if p.scripts is not None:
        p.scripts.before_process(p)
    stored_opts = {k: opts.data[k] if k in opts.data else opts.get_default(k) for k in p.override_settings}
    try:
        for k, v in p.override_settings.items():
            opts.set(k, v, is_api=True, run_callbacks=False)
        res = process_images_inner(p)
    finally:
        if p.override_settings_restore_afterwards:
            for k, v in stored_opts.items():
                setattr(opts, k, v)
    return res


def process_images_inner(p: StableDiffusionProcessing) -> Processed:
    if shared.sd_model is None:
        raise RuntimeError("no checkpoint loaded")
    calls.append(p)
    _fix_p_invalid_sampler_and_scheduler(p)
    p.sd_model_name = shared.sd_model.sd_checkpoint_info.name_for_extra
    p.sd_model_hash = shared.sd_model.sd_model_hash
    seed = p.seed if p.seed not in (-1, None) else int(random.randrange(4294967294))
    n_images = p.n_iter * p.batch_size
    p.all_seeds = [int(seed) + i for i in range(n_images)]
    p.all_prompts = [p.prompt] * n_images
    p.all_negative_prompts = [p.negative_prompt] * n_images
    p.all_subseeds = [-1] * n_images
    p.main_prompt, p.main_negative_prompt = p.all_prompts[0], p.all_negative_prompts[0]
    if p.scripts is not None:
        p.scripts.process(p)
    p.init(p.all_prompts, p.all_seeds, p.all_subseeds)
    if state.job_count == -1:
        state.job_count = p.n_iter
    output_images, infotexts = [], []
    for n in range(p.n_iter):
        p.iteration = n
        if state.skipped:
            state.skipped = False
        if state.interrupted or state.stopping_generation:
            break
        seeds = p.seeds = p.all_seeds[n * p.batch_size:(n + 1) * p.batch_size]
        prompts = p.prompts = p.all_prompts[n * p.batch_size:(n + 1) * p.batch_size]
        p.negative_prompts = p.all_negative_prompts[n * p.batch_size:(n + 1) * p.batch_size]
        p.subseeds = p.all_subseeds[n * p.batch_size:(n + 1) * p.batch_size]
        if p.scripts is not None:
            p.scripts.before_process_batch(p, batch_number=n, prompts=p.prompts, seeds=p.seeds, subseeds=p.subseeds)
            p.scripts.process_batch(p, batch_number=n, prompts=p.prompts, seeds=p.seeds, subseeds=p.subseeds)
        samples = p.sample(seeds, prompts)
        state.nextjob()
        if p.scripts is not None:
            p.scripts.postprocess_batch(p, samples, batch_number=n)
        for i, image in enumerate(samples):
            overlay_image = p.overlay_images[i] if p.overlay_images is not None and i < len(p.overlay_images) else None
            if opts.overlay_inpaint and overlay_image is not None:
                image, _ = apply_overlay(image, p.paste_to, overlay_image)
            text = create_infotext(p, p.prompts, p.seeds, p.subseeds, index=i, all_negative_prompts=p.negative_prompts)
            if opts.enable_pnginfo:
                image.info["parameters"] = text
            if p.save_samples():
                if not p.outpath_samples:
                    raise TypeError("expected str, bytes or os.PathLike object, not NoneType")
                image.save(f"{p.outpath_samples}/{seeds[i]}.png")
            infotexts.append(text)
            output_images.append(image)
    index_of_first_image = 0
    if len(output_images) >= 2 and opts.return_grid and not p.do_not_save_grid:
        grid = Image.new("RGB", (output_images[0].width * len(output_images), output_images[0].height))
        output_images.insert(0, grid)
        infotexts.insert(0, create_infotext(p, p.prompts, p.seeds, p.subseeds, use_main_prompt=True,
                                            all_negative_prompts=p.negative_prompts))
        index_of_first_image = 1
    res = Processed(p, output_images, p.all_seeds[0], infotexts[0] if infotexts else "",
                    index_of_first_image=index_of_first_image, infotexts=infotexts)
    if p.scripts is not None:
        p.scripts.postprocess(p, res)
    return res


def _fix_p_invalid_sampler_and_scheduler(p) -> None:
    if p.sampler_name not in sd_samplers.visible_sampler_names():
        p.comment(f"Sampler {p.sampler_name!r} not found, using DPM++ 2M")
        p.sampler_name = "DPM++ 2M"
    if p.scheduler not in sd_schedulers.schedulers_map:
        p.scheduler = "Automatic"


def _gaussian_blur(mask: Image.Image, sigma: int, axis: int) -> Image.Image:
    """cv2.GaussianBlur along one axis with the WebUI's kernel size (border reflect-101)."""
    size = 2 * int(2.5 * sigma + 0.5) + 1
    x = np.arange(size) - size // 2
    kernel = np.exp(-(x ** 2) / (2 * sigma ** 2))
    kernel /= kernel.sum()
    blurred = convolve1d(np.asarray(mask, dtype=np.float32), kernel, axis=axis, mode="mirror")
    return Image.fromarray(np.clip(np.rint(blurred), 0, 255).astype(np.uint8))


def _prompt_colour(prompt: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(prompt.encode("utf8")).digest()
    return digest[0], digest[1], digest[2]
