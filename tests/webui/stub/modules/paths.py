"""modules/paths.py: re-exports of paths_internal."""

from modules.paths_internal import data_path, default_output_dir, models_path, script_path  # noqa: F401
