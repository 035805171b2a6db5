"""modules/safe.py: the WebUI's safe-unpickle check in front of ``torch.load`` (A1111; Forge has none).

Behaves as the real one: before loading, the file is opened as a zip and its entries and its data.pkl are
checked with a restricted unpickler (plain tensors and state dicts only); a file that is no zip is read as the
legacy format (five pickles). A refused file is reported on the console and ``load`` returns None. Given an open
FILE OBJECT the zip pass leaves its position moved, so the load that follows fails ("PytorchStreamReader failed
reading zip archive"), and a legacy file object cannot be reopened by name (refused): the real check does the
same. The real module replaces ``torch.load`` when it is imported (modules/paths.py imports it); the stand-in
does so through :func:`install`, which the WebUI tests' conftest calls around every test.
"""

import collections
import pickle
import re
import zipfile

import numpy
import torch

from modules import errors, shared

unsafe_torch_load = torch.load
TypedStorage = torch.storage.TypedStorage

ALLOWED_ZIP_NAMES = re.compile(r"^([^/]+)/((data/\d+)|version|(data\.pkl))$")
DATA_PKL = re.compile(r"^([^/]+)/data\.pkl$")
ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_device_tensor_from_numpy"): torch._utils._rebuild_device_tensor_from_numpy,
    ("torch", "FloatStorage"): torch.FloatStorage,
    ("torch", "HalfStorage"): torch.HalfStorage,
    ("torch", "IntStorage"): torch.IntStorage,
    ("torch", "LongStorage"): torch.LongStorage,
    ("torch", "DoubleStorage"): torch.DoubleStorage,
    ("torch", "ByteStorage"): torch.ByteStorage,
    ("torch", "BFloat16Storage"): torch.BFloat16Storage,
    ("torch", "float32"): torch.float32,
    ("numpy", "dtype"): numpy.dtype,
    ("numpy", "ndarray"): numpy.ndarray,
    ("__builtin__", "set"): set,
}


class RestrictedUnpickler(pickle.Unpickler):
    def persistent_load(self, saved_id):
        assert saved_id[0] == "storage"
        return TypedStorage(_internal=True)

    def find_class(self, module, name):
        if (module, name) in ALLOWED_GLOBALS:
            return ALLOWED_GLOBALS[(module, name)]
        raise Exception(f"global '{module}/{name}' is forbidden")


def check_pt(filename) -> None:
    try:
        with zipfile.ZipFile(filename) as archive:
            for name in archive.namelist():
                if not ALLOWED_ZIP_NAMES.match(name):
                    raise Exception(f"bad file inside {filename}: {name}")
            pickles = [n for n in archive.namelist() if DATA_PKL.match(n)]
            if len(pickles) != 1:
                raise Exception(f"{len(pickles)} data.pkl found in {filename}")
            with archive.open(pickles[0]) as handle:
                RestrictedUnpickler(handle).load()
    except zipfile.BadZipfile:
        with open(filename, "rb") as handle:  # a file object is no name to open: TypeError, reported below
            unpickler = RestrictedUnpickler(handle)
            for _ in range(5):
                unpickler.load()


def load(filename, *args, **kwargs):
    try:
        if not shared.cmd_opts.disable_safe_unpickle:
            check_pt(filename)
    except Exception:
        errors.report(f"Error verifying pickled file from {filename}\n"
                      "The file may be malicious, so the program is not going to read it.", exc_info=True)
        return None
    return unsafe_torch_load(filename, *args, **kwargs)


def install() -> None:
    """``torch.load`` becomes the checked load, as importing the real module does."""
    torch.load = load


def uninstall() -> None:
    torch.load = unsafe_torch_load
