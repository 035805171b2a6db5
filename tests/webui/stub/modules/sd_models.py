"""modules/sd_models.py: the checkpoint holder; its lock is held while a checkpoint loads (A1111, not Forge)."""

import threading


class SdModelData:
    def __init__(self):
        self.sd_model = None
        self.loaded_sd_models = []
        self.was_loaded_at_least_once = False
        self.lock = threading.Lock()


model_data = SdModelData()
