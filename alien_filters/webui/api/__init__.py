"""The /alien HTTP API: :mod:`.schemas` (typed requests and answers), :mod:`.auth` (--api-auth),
:mod:`.errors` (JSON errors, body cap) and :mod:`.routes` (the routes over the service)."""

from .auth import parse_credentials
from .routes import AlienApi

__all__ = ["AlienApi", "parse_credentials"]
