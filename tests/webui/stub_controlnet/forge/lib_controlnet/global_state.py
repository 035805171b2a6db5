"""Forge's lib_controlnet/global_state.py at dfdcbab: the model list ("stem [hash]" names, 'None' first) and the
preprocessors by name ('None' passes the image through; both crop with the A1111 mask in img2img inpainting)."""

from __future__ import annotations

from tests.webui.stub_controlnet.models import list_models

controlnet_dir = None
"""models/ControlNet (tests set it)."""
controlnet_filename_dict = {'None': 'model.safetensors'}
controlnet_names = ['None']
supported_preprocessors = {"None": object(), "canny": object()}


def get_preprocessor(name):
    return supported_preprocessors.get(name, None)


def get_all_controlnet_names():
    return controlnet_names


def get_controlnet_filename(controlnet_name):
    return controlnet_filename_dict[controlnet_name]


def update_controlnet_filenames():
    global controlnet_filename_dict, controlnet_names
    controlnet_filename_dict = {'None': 'model.safetensors', **list_models(controlnet_dir)}
    controlnet_names = list(controlnet_filename_dict.keys())
