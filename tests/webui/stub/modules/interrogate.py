"""modules/interrogate.py: InterrogateModels with the real method names (v1.10.1; Forge keeps them).

``load()`` puts BLIP and CLIP on the interrogate device and sets ``dtype``; ``generate_caption(pil_image)`` needs
``load()`` first (it reads ``dtype`` and ``blip_model``); ``send_blip_to_ram``/``send_clip_to_ram``/``unload`` move
them back unless ``opts.interrogate_keep_models_in_memory``. The stand-in's BLIP writes the image's size and mean
colour into a fixed sentence, and every call is recorded in ``calls`` for tests.
"""

from modules import devices

calls = []
"""Method names in call order (tests clear it)."""


class _StandInBlip:
    """BLIP's decoder as generate_caption uses it: ``generate(image, ...) -> [caption]``."""

    def __init__(self):
        self.device = devices.cpu

    def to(self, device):
        self.device = device
        return self


class InterrogateModels:
    blip_model = None
    clip_model = None
    clip_preprocess = None
    dtype = None
    running_on_cpu = None

    def __init__(self, content_dir):
        self.loaded_categories = None
        self.skip_categories = []
        self.content_dir = content_dir

    def load(self):
        calls.append("load")
        if self.blip_model is None:
            self.blip_model = _StandInBlip()
        self.blip_model = self.blip_model.to("interrogate-device")
        if self.clip_model is None:
            self.clip_model = _StandInBlip()
        self.clip_model = self.clip_model.to("interrogate-device")
        self.dtype = "float32"

    def send_clip_to_ram(self):
        from modules import shared

        calls.append("send_clip_to_ram")
        if not shared.opts.data.get("interrogate_keep_models_in_memory", False):
            if self.clip_model is not None:
                self.clip_model = self.clip_model.to(devices.cpu)

    def send_blip_to_ram(self):
        from modules import shared

        calls.append("send_blip_to_ram")
        if not shared.opts.data.get("interrogate_keep_models_in_memory", False):
            if self.blip_model is not None:
                self.blip_model = self.blip_model.to(devices.cpu)

    def unload(self):
        calls.append("unload")
        self.send_clip_to_ram()
        self.send_blip_to_ram()
        devices.torch_gc()

    def generate_caption(self, pil_image):
        calls.append("generate_caption")
        if self.dtype is None or self.blip_model.device != "interrogate-device":
            raise RuntimeError("generate_caption before load(): BLIP is not on the interrogate device")
        red, green, blue = (sum(band.getdata()) // (pil_image.width * pil_image.height) for band in pil_image.split())
        return f"a room of {pil_image.width} by {pil_image.height} pixels in colour {red} {green} {blue}"

    def interrogate(self, pil_image):
        from modules import shared

        shared.state.begin(job="interrogate")
        self.load()
        res = self.generate_caption(pil_image)
        self.send_blip_to_ram()
        self.unload()
        shared.state.end()
        return res
