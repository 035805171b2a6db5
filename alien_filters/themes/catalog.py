"""The themes a user can choose: the built-in ones, then the YAML files of a themes folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..core.theme import Theme
from .parsing import ThemeError, UnknownThemeError, load_theme


def builtin_themes_dir() -> Path:
    """The folder of the themes that ship with the package."""
    return Path(__file__).parent.parent / "data" / "themes"


@dataclass
class ThemeCatalog:
    """Themes by name, and the errors of files that could not be loaded."""

    themes: dict[str, Theme] = field(default_factory=dict)
    errors: list[ThemeError] = field(default_factory=list)


def _theme_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".yaml", ".yml"))


def load_catalog(user_dir: Path | None = None) -> ThemeCatalog:
    """Built-in themes, then the ``*.yaml``/``*.yml`` files of ``user_dir`` (a user theme replaces a built-in
    of the same name). A broken file is reported in ``errors`` and the others still load; a missing
    ``user_dir`` counts as empty."""
    catalog = ThemeCatalog()
    _add_folder(catalog, builtin_themes_dir())
    if user_dir is not None:
        folder = Path(user_dir)
        if folder.is_dir():
            _add_folder(catalog, folder)
        elif folder.exists():
            catalog.errors.append(ThemeError(str(folder), None, None, "the themes folder is not a folder"))
    return catalog


def _add_folder(catalog: ThemeCatalog, folder: Path) -> None:
    loaded_here: dict[str, str] = {}
    for path in _theme_files(folder):
        try:
            theme = load_theme(path)
        except ThemeError as err:
            catalog.errors.append(err)
            continue
        if theme.name in loaded_here:
            catalog.errors.append(
                ThemeError(
                    str(path), None, "name", f"theme '{theme.name}' is already defined by {loaded_here[theme.name]}"
                )
            )
            continue
        loaded_here[theme.name] = str(path)
        catalog.themes[theme.name] = theme


def get_theme(name: str, user_dir: Path | None = None) -> Theme:
    """The theme called ``name`` (user themes first, then built-ins); UnknownThemeError lists the others."""
    catalog = load_catalog(user_dir)
    if name in catalog.themes:
        return catalog.themes[name]
    where = str(user_dir) if user_dir is not None else str(builtin_themes_dir())
    problem = f"no theme named {name!r}; available: {', '.join(sorted(catalog.themes)) or 'none'}"
    if catalog.errors:
        problem += f" ({len(catalog.errors)} theme file(s) could not be loaded; first: {catalog.errors[0]})"
    raise UnknownThemeError(where, None, None, problem)
