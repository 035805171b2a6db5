"""Stand-in for the WebUI's ``launch`` module as install.py sees it: is_installed (the real lookup), run_pip,
which records the command instead of running pip (``pip_commands``), and git_tag (the version in infotexts)."""

import importlib.metadata
import importlib.util

pip_commands: list[tuple[str, str | None]] = []


def is_installed(package):
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        try:
            spec = importlib.util.find_spec(package)
        except ModuleNotFoundError:
            return False
        return spec is not None
    return dist is not None


def run_pip(command, desc=None, live=False):
    pip_commands.append((command, desc))


def git_tag():
    return "v1.10.1"
