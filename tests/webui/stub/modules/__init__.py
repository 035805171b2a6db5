"""Stand-in for the WebUI v1.10.1 ``modules`` namespace: only what Alien Filters uses, with the real names."""
