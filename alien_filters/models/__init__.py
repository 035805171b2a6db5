"""Model registry (registry.py), downloads (download.py), lookup (manager.py) and device handling (device.py).

Import the submodules directly; this package imports nothing itself, so light users (the command line's
``themes``) do not load torch.
"""
