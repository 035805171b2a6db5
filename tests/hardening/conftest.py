"""The WebUI stand-in for the API hardening tests: the same clean-state fixtures as tests/webui."""

from tests.webui.conftest import data_path, webui_state  # noqa: F401 - re-exported fixtures (webui_state is autouse)
