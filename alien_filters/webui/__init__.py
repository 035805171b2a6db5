"""The AUTOMATIC1111 / Forge WebUI extension: WebUI-backed stages, runtime glue, settings, API and the tab.

Every module except :mod:`.paths` and :mod:`.jobs` imports the WebUI's ``modules`` namespace, so import them
only inside the WebUI (or under the test stand-in in ``tests/webui/stub``).
"""
