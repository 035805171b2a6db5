"""Alien Filters: restyle interior photos object by object (restore, tag, segment, plan, inpaint)."""

__version__ = "0.1.0"
