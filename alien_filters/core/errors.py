"""The one base class of Alien Filters' own errors: what a user did or has (a bad theme, image, path or setting, a
missing model, a stage that failed) rather than a bug. Callers that answer users (the command line, the tab, the
API) catch it and show its message; anything else is unexpected and keeps its traceback."""


class AlienFiltersError(Exception):
    """A problem to tell the user in words; ``str()`` names the file, setting or stage and what is wrong."""
