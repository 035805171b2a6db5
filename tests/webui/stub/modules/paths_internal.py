"""modules/paths_internal.py: data_path and friends. The stand-in takes data_path from ALIEN_WEBUI_STUB_DATA."""

import os
import tempfile

script_path = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
data_path = os.environ.get("ALIEN_WEBUI_STUB_DATA") or tempfile.mkdtemp(prefix="webui-stub-")
models_path = os.path.join(data_path, "models")
extensions_dir = os.path.join(data_path, "extensions")
extensions_builtin_dir = os.path.join(script_path, "extensions-builtin")
default_output_dir = os.path.join(data_path, "outputs")
