"""modules/modelloader.py: friendly_name (the display name of a model file)."""

import os


def friendly_name(file: str):
    if file.startswith("http"):
        file = os.path.basename(file)
    model_name, _ = os.path.splitext(os.path.basename(file))
    return model_name
