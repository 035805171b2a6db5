"""modules/scripts.py: basedir(), the Script base class and the ScriptRunner as v1.10.1 runs always-on scripts.

A runner calls each always-on script that overrides a callback with ``p.script_args[script.args_from:
script.args_to]``, and reports a script's exception on the console (errors.report) and goes on, as the WebUI does.
``scripts_img2img`` is the img2img tab's runner (tests fill it with the scripts extensions register).
"""

import os

from modules import errors

current_basedir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
scripts_img2img = None
AlwaysVisible = object()


def basedir():
    return current_basedir


class Script:
    name = None
    filename = None
    args_from = None
    args_to = None
    alwayson = False
    is_txt2img = False
    is_img2img = False
    setup_for_ui_only = False

    def title(self):
        raise NotImplementedError()

    def show(self, is_img2img):
        return True

    def setup(self, p, *args):
        pass

    def before_process(self, p, *args):
        pass

    def process(self, p, *args):
        pass

    def before_process_batch(self, p, *args, **kwargs):
        pass

    def process_batch(self, p, *args, **kwargs):
        pass

    def process_before_every_sampling(self, p, *args, **kwargs):
        pass

    def postprocess_batch(self, p, *args, **kwargs):
        pass

    def postprocess_batch_list(self, p, pp, *args, **kwargs):
        pass

    def postprocess_image(self, p, pp, *args):
        pass

    def postprocess(self, p, processed, *args):
        pass


class ScriptRunner:
    def __init__(self):
        self.scripts = []
        self.selectable_scripts = []
        self.alwayson_scripts = []
        self.titles = []
        self.title_map = {}
        self.infotext_fields = []
        self.paste_field_names = []
        self.inputs = [None]
        self.callback_map = {}

    def ordered_scripts(self, method_name):
        """The always-on scripts whose class overrides ``method_name`` (ordered_callbacks without user sorting)."""
        return [s for s in self.alwayson_scripts
                if getattr(s.__class__, method_name, None) != getattr(Script, method_name, None)]

    def _run(self, method_name, p, *args, **kwargs):
        for script in self.ordered_scripts(method_name):
            try:
                script_args = p.script_args[script.args_from:script.args_to]
                getattr(script, method_name)(p, *args, *script_args, **kwargs)
            except Exception:
                errors.report(f"Error running {method_name}: {script.filename}", exc_info=True)

    def setup_scrips(self, p, *, is_ui=True):
        for script in self.ordered_scripts("setup"):
            if not is_ui and script.setup_for_ui_only:
                continue
            try:
                script.setup(p, *p.script_args[script.args_from:script.args_to])
            except Exception:
                errors.report(f"Error running setup: {script.filename}", exc_info=True)

    def before_process(self, p):
        self._run("before_process", p)

    def process(self, p):
        self._run("process", p)

    def before_process_batch(self, p, **kwargs):
        self._run("before_process_batch", p, **kwargs)

    def process_batch(self, p, **kwargs):
        self._run("process_batch", p, **kwargs)

    def process_before_every_sampling(self, p, **kwargs):
        self._run("process_before_every_sampling", p, **kwargs)

    def postprocess_batch(self, p, images, **kwargs):
        self._run("postprocess_batch", p, images=images, **kwargs)

    def postprocess_batch_list(self, p, pp, **kwargs):
        self._run("postprocess_batch_list", p, pp, **kwargs)

    def postprocess_image(self, p, pp):
        self._run("postprocess_image", p, pp)

    def postprocess(self, p, processed):
        self._run("postprocess", p, processed)
