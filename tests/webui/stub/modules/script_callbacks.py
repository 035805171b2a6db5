"""modules/script_callbacks.py: the registration functions and the callers the WebUI runs (v1.10.1 names)."""

from collections import defaultdict

callback_map = defaultdict(list)


def add_callback(callbacks, fun, *, name=None, category='unknown', filename=None):
    callbacks.append((name, fun))


def clear_callbacks():
    callback_map.clear()


def on_app_started(callback, *, name=None):
    add_callback(callback_map['callbacks_app_started'], callback, name=name, category='app_started')


def on_ui_tabs(callback, *, name=None):
    add_callback(callback_map['callbacks_ui_tabs'], callback, name=name, category='ui_tabs')


def on_ui_settings(callback, *, name=None):
    add_callback(callback_map['callbacks_ui_settings'], callback, name=name, category='ui_settings')


def on_script_unloaded(callback, *, name=None):
    add_callback(callback_map['callbacks_script_unloaded'], callback, name=name, category='script_unloaded')


class CFGDenoiserParams:
    def __init__(self, x, image_cond, sigma, sampling_step, total_sampling_steps, text_cond, text_uncond,
                 denoiser=None):
        self.x = x
        self.image_cond = image_cond
        self.sigma = sigma
        self.sampling_step = sampling_step
        self.total_sampling_steps = total_sampling_steps
        self.text_cond = text_cond
        self.text_uncond = text_uncond
        self.denoiser = denoiser


def on_cfg_denoiser(callback, *, name=None):
    add_callback(callback_map['callbacks_cfg_denoiser'], callback, name=name, category='cfg_denoiser')


def cfg_denoiser_callback(params):
    for _, c in callback_map['callbacks_cfg_denoiser']:
        c(params)


def app_started_callback(demo, app):
    for _, c in callback_map['callbacks_app_started']:
        c(demo, app)


def ui_tabs_callback():
    res = []
    for _, c in callback_map['callbacks_ui_tabs']:
        res += c() or []
    return res


def ui_settings_callback():
    for _, c in callback_map['callbacks_ui_settings']:
        c()


def script_unloaded_callback():
    for _, c in reversed(callback_map['callbacks_script_unloaded']):
        c()
