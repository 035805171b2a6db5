"""modules/scripts.py: basedir() and the script registries an extension may look at."""

import os

current_basedir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
scripts_img2img = None


def basedir():
    return current_basedir
