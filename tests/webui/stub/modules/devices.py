"""modules/devices.py: only torch_gc (counted, so tests can see it ran)."""

import torch

cpu = torch.device("cpu")
device = cpu
gc_calls = 0


def torch_gc():
    global gc_calls
    gc_calls += 1
