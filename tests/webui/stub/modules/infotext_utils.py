"""modules/infotext_utils.py (A1111 v1.10.1): quote, unquote and parse_generation_parameters, the parser behind the
PNG Info tab and "Send to img2img".

parse_generation_parameters follows the real function step by step for what the stand-in WebUI has: the prompt and
``Negative prompt:`` lines, the ``Key: value`` pairs of the last line (only when it holds at least 3), quoted values,
``WxH`` values split into ``-1``/``-2`` keys, the defaults it fills in for missing keys and ``skip_fields``. Left
out, since the stand-in has nothing they act on: styles found in the prompt (no saved styles: the real extraction
returns the prompts unchanged), hypernetworks, old hires-fix sizes, the emphasis check and version back-compat.
"""

from __future__ import annotations

import json
import re

from modules import shared

re_param_code = r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)'
re_param = re.compile(re_param_code)
re_imagesize = re.compile(r"^(\d+)x(\d+)$")


def quote(text):
    if ',' not in str(text) and '\n' not in str(text) and ':' not in str(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def unquote(text):
    if len(text) == 0 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        return json.loads(text)
    except Exception:
        return text


def parse_generation_parameters(x: str, skip_fields: list[str] | None = None):
    """Parses the infotext (prompt, ``Negative prompt: ...``, ``Steps: 20, Sampler: ...``); a dict of its fields."""
    if skip_fields is None:
        skip_fields = shared.opts.infotext_skip_pasting

    res = {}
    prompt = ""
    negative_prompt = ""
    done_with_prompt = False

    *lines, lastline = x.strip().split("\n")
    if len(re_param.findall(lastline)) < 3:
        lines.append(lastline)
        lastline = ''

    for line in lines:
        line = line.strip()
        if line.startswith("Negative prompt:"):
            done_with_prompt = True
            line = line[16:].strip()
        if done_with_prompt:
            negative_prompt += ("" if negative_prompt == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line

    for k, v in re_param.findall(lastline):
        try:
            if v[0] == '"' and v[-1] == '"':
                v = unquote(v)
            m = re_imagesize.match(v)
            if m is not None:
                res[f"{k}-1"] = m.group(1)
                res[f"{k}-2"] = m.group(2)
            else:
                res[k] = v
        except Exception:
            print(f"Error parsing \"{k}: {v}\"")

    res["Prompt"] = prompt
    res["Negative prompt"] = negative_prompt

    defaults = {
        "Clip skip": "1", "Hires resize-1": 0, "Hires resize-2": 0, "Hires sampler": "Use same sampler",
        "Hires schedule type": "Use same scheduler", "Hires checkpoint": "Use same checkpoint", "Hires prompt": "",
        "Hires negative prompt": "", "Mask mode": "Inpaint masked", "Masked content": 'original',
        "Inpaint area": "Whole picture", "Masked area padding": 32, "RNG": "GPU", "Schedule type": "Automatic",
        "Schedule max sigma": 0, "Schedule min sigma": 0, "Schedule rho": 0, "VAE Encoder": "Full",
        "VAE Decoder": "Full", "FP8 weight": "Disable",
    }
    for key, value in defaults.items():
        if key not in res:
            res[key] = value
    if "Cache FP16 weight for LoRA" not in res and res["FP8 weight"] != "Disable":
        res["Cache FP16 weight for LoRA"] = False
    if "Refiner switch by sampling steps" not in res:
        res["Refiner switch by sampling steps"] = False

    for key in skip_fields:
        res.pop(key, None)

    return res
