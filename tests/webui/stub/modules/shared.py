"""modules/shared.py: opts, state, cmd_opts, sd_upscalers, sd_model and the option helpers."""

import argparse
import os

from modules import options, shared_state, shared_total_tqdm
from modules.paths_internal import data_path, default_output_dir, models_path, script_path  # noqa: F401

cmd_opts = argparse.Namespace(
    api_auth=None, api=True, nowebui=False, no_half=True, use_cpu=["all"], data_dir=data_path,
    freeze_settings=False, hide_ui_dir_config=False, disable_safe_unpickle=False,
    ui_settings_file=os.path.join(data_path, "config.json"),
)
config_filename = cmd_opts.ui_settings_file

options_section = options.options_section
OptionInfo = options.OptionInfo
OptionHTML = options.OptionHTML

# The v1.10.1 defaults (modules/shared_options.py) of every option the stand-ins read.
options_templates = {
    "samples_save": OptionInfo(True, "Always save all generated images"),
    "samples_format": OptionInfo("png", "File format for images"),
    "outdir_samples": OptionInfo("", "Output directory for images"),
    "outdir_img2img_samples": OptionInfo(os.path.join(default_output_dir, "img2img-images"), "img2img outputs"),
    "return_grid": OptionInfo(True, "Show grid in gallery"),
    "grid_only_if_multiple": OptionInfo(True, "Do not save grids consisting of one picture"),
    "overlay_inpaint": OptionInfo(True, "Overlay original for inpaint"),
    "img2img_fix_steps": OptionInfo(False, "With img2img, do exactly the amount of steps the slider specifies"),
    "initial_noise_multiplier": OptionInfo(1.0, "Noise multiplier for img2img"),
    "img2img_background_color": OptionInfo("#ffffff", "With img2img, fill transparent parts with this color"),
    "img2img_color_correction": OptionInfo(False, "Apply color correction to img2img results"),
    "save_init_img": OptionInfo(False, "Save init images when using img2img"),
    "return_mask": OptionInfo(False, "For inpainting, include the greyscale mask in results"),
    "return_mask_composite": OptionInfo(False, "For inpainting, include masked composite in results"),
    "upscaler_for_img2img": OptionInfo(None, "Upscaler for img2img"),
    "ESRGAN_tile": OptionInfo(192, "Tile size for ESRGAN upscalers"),
    "ESRGAN_tile_overlap": OptionInfo(8, "Tile overlap for ESRGAN upscalers"),
    "SWIN_tile": OptionInfo(192, "Tile size for all SwinIR"),
    "SWIN_tile_overlap": OptionInfo(8, "Tile overlap for SwinIR"),
    "CLIP_stop_at_last_layers": OptionInfo(1, "Clip skip"),
    "face_restoration_model": OptionInfo("CodeFormer", "Face restoration model"),
    "sd_model_checkpoint": OptionInfo(None, "Stable Diffusion checkpoint"),
    "enable_pnginfo": OptionInfo(True, "Write infotext to metadata of the generated image"),
    "add_model_name_to_info": OptionInfo(True, "Add model name to infotext"),
    "add_model_hash_to_info": OptionInfo(True, "Add model hash to infotext"),
    "add_vae_name_to_info": OptionInfo(True, "Add VAE name to infotext"),
    "add_vae_hash_to_info": OptionInfo(True, "Add VAE hash to infotext"),
    "add_version_to_infotext": OptionInfo(True, "Add program version to infotext"),
    "infotext_skip_pasting": OptionInfo([], "Disregard fields from pasted infotext"),
}
opts = options.Options(options_templates, set())

state = shared_state.State()

total_tqdm = shared_total_tqdm.TotalTQDM()
"""The console's "Total progress" bar (set by shared_init in the WebUI)."""

sd_model = None
"""Tests put a stand-in model here (the real one is loaded in a background thread at start-up)."""

sd_upscalers = []

from modules import interrogate  # noqa: E402 - as modules.shared_init does once shared exists

interrogator = interrogate.InterrogateModels("interrogate")
"""The CLIP + BLIP interrogator (``shared.interrogator``, set by modules/shared_init.py in the WebUI)."""

demo = None
device = None
