"""Alien Filters WebUI glue: the tab, the Settings section and the /alien API routes.

Our package is imported here at the top: the WebUI puts the extension folder on sys.path only while this file
is being imported (A1111), so every import of ``alien_filters`` must happen now.
"""

from modules import script_callbacks, shared

from alien_filters.webui import api, factory, jobs, service, settings, ui

TAB_TITLE = "Alien Filters"
TAB_ID = "alien_filters"


def _interrupt_running(job: jobs.Job) -> None:
    """Cancel of a running job: stop the WebUI's sampler after the current step, like the Interrupt button."""
    shared.state.interrupt()


def _service() -> service.AlienService:
    """One service per WebUI process, kept across Reload UI (the package stays imported)."""
    existing = getattr(service, "webui_service", None)
    if existing is None:
        existing = service.AlienService(factory.build_webui_stages)
        existing.registry.on_cancel = _interrupt_running
        service.webui_service = existing
    return existing


def on_ui_tabs():
    return [(ui.build_tab(_service()), TAB_TITLE, TAB_ID)]


def on_app_started(demo, app):
    credentials = lambda: api.parse_credentials(getattr(shared.cmd_opts, "api_auth", None))  # noqa: E731
    api.AlienApi(_service(), credentials).register(app)


script_callbacks.on_ui_settings(settings.on_ui_settings)
script_callbacks.on_ui_tabs(on_ui_tabs)
script_callbacks.on_app_started(on_app_started)
