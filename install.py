"""Run by the WebUI at start-up and after an install from the Extensions tab (``python install.py``).

Installs only what is missing, never torch, never anything the WebUI pins: every package goes in with
``--no-deps`` so pip cannot replace a pinned dependency. Everything else Alien Filters needs (numpy, Pillow,
transformers, spandrel, safetensors, tqdm) is already part of the WebUI and of Forge.
"""

import launch

REQUIREMENTS = [
    # (distribution name for launch.is_installed, pip requirement)
    ("segment-anything", "segment-anything==1.0"),
    ("PyYAML", "pyyaml>=6,<7"),
    ("scipy", "scipy>=1.10,<1.14"),
    # the dataset report's clusters (the tab's report section); neither WebUI ships scikit-learn
    ("scikit-learn", "scikit-learn>=1.3,<1.6"),
    ("joblib", "joblib>=1.2"),
    ("threadpoolctl", "threadpoolctl>=3.1"),
]


def missing() -> list[tuple[str, str]]:
    """The requirements not installed yet."""
    return [(name, spec) for name, spec in REQUIREMENTS if not launch.is_installed(name)]


def main() -> None:
    for _name, spec in missing():
        launch.run_pip(f'install --no-deps "{spec}"', f"{spec} for Alien Filters")


if __name__ == "__main__":
    main()
