"""Run with the WebUI's Python: ``python real_webui_controlnet.py WEBUI_DIR CONTROLNET_DIR OUT.safetensors``.

Writes a FULL-SIZE random-weight SD1.5 ControlNet built with sd-webui-controlnet's own class (``scripts.cldm.
ControlNet`` at the extension's ``controlnet_default_config``: the only SD1.5 config its loader builds, whatever the
file holds, so the checkpoint's UNet must be SD1.5-sized too), saved as fp16 safetensors with the
``control_model.`` prefix of the released ControlNet 1.1 .pth files (about 700 MB). The zero-initialised
convolutions get small noise, so the unit changes the UNet's features. Nothing is downloaded.
"""

import sys
from pathlib import Path


def main(webui: Path, extension: Path, out: Path) -> None:
    sys.argv = sys.argv[:1]  # the WebUI's modules parse sys.argv as WebUI flags
    # not repositories/generative-models: its regular package "scripts" would hide the extension's scripts/
    sys.path[:0] = [str(extension), str(webui), str(webui / "repositories" / "stable-diffusion-stability-ai")]
    import os

    os.chdir(webui)
    import torch
    from safetensors.torch import save_file
    from scripts.cldm import ControlNet
    from scripts.controlnet_model_guess import controlnet_default_config

    torch.manual_seed(0)
    config = {**controlnet_default_config, "hint_channels": 3, "use_fp16": False}
    model = ControlNet(**config)
    state = {}
    for key, value in model.state_dict().items():
        if value.is_floating_point() and value.dim() > 1 and not value.any():  # the zero convolutions
            value = torch.randn_like(value) * 1e-3
        state["control_model." + key] = value.half().contiguous()
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out))
    print(f"wrote {out} ({out.stat().st_size // 2**20} MB, {len(state)} tensors)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
