"""Theme files: YAML parsing with ``file:line: field: problem`` errors, the catalog of built-in and user themes,
and the lint of ``check-theme``. The theme model itself is :mod:`alien_filters.core.theme`."""

from ..core.theme import NAME_PATTERN, Rule, Theme
from .catalog import ThemeCatalog, builtin_themes_dir, get_theme, load_catalog
from .lint import check_theme, theme_warnings, unknown_classes
from .parsing import ThemeError, UnknownThemeError, load_theme, parse_theme

__all__ = ["NAME_PATTERN", "Rule", "Theme", "ThemeCatalog", "ThemeError", "UnknownThemeError", "builtin_themes_dir",
           "check_theme", "get_theme", "load_catalog", "load_theme", "parse_theme", "theme_warnings",
           "unknown_classes"]
