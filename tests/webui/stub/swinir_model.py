"""Stand-in for extensions-builtin/SwinIR/scripts/swinir_model.py: class UpscalerSwinIR with the real naming
rules ("SwinIR 4x" for the download URL entry, the file stem for local files), loading through spandrel and
returning the input unchanged when loading fails (as the real one does)."""

import sys

import numpy as np
import spandrel
import torch
from modules import modelloader
from modules.upscaler import Upscaler, UpscalerData
from PIL import Image

SWINIR_MODEL_URL = "https://github.com/JingyunLiang/SwinIR/releases/download/v0.0/003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth"


class UpscalerSwinIR(Upscaler):
    def __init__(self, dirname):
        self._cached_model = None
        self.name = "SwinIR"
        self.model_url = SWINIR_MODEL_URL
        self.model_name = "SwinIR 4x"
        self.user_path = dirname
        super().__init__()
        scalers = []
        model_files = self.find_models(ext_filter=[".pt", ".pth"]) or [self.model_url]
        for model in model_files:
            name = self.model_name if model.startswith("http") else modelloader.friendly_name(model)
            scalers.append(UpscalerData(name, model, self))
        self.scalers = scalers
        self.loads = 0

    def do_upscale(self, img: Image.Image, model_file: str) -> Image.Image:
        try:
            model = self.load_model(model_file)
        except Exception as e:
            print(f"Failed loading SwinIR model {model_file}: {e}", file=sys.stderr)
            return img
        tensor = torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
        with torch.no_grad():
            out = model(tensor)[0].clamp(0, 1).permute(1, 2, 0).numpy()
        return Image.fromarray((out * 255).round().astype(np.uint8))

    def load_model(self, path, scale=4):
        if self._cached_model is None:
            self.loads += 1
            model = spandrel.ModelLoader().load_from_file(path)
            if model.architecture.name != "SwinIR":
                raise TypeError(f"{path} is not a SwinIR model")
            self._cached_model = model.eval()
        return self._cached_model
