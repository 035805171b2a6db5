"""The cluster-mode tests (tests/cluster) under the stand-alone environment, the only one with Ray: Ray 2.60 refuses
pydantic 1, the WebUI's pin, so under the WebUI's stack those tests skip themselves.

Set ALIEN_FILTERS_STANDALONE_PYTHON to that environment's interpreter (``.ci/run`` builds one from
``requirements-standalone.txt``); where it is set, any failure or skip there fails this test.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STANDALONE_PYTHON = os.environ.get("ALIEN_FILTERS_STANDALONE_PYTHON")


@pytest.mark.skipif(not STANDALONE_PYTHON,
                    reason="ALIEN_FILTERS_STANDALONE_PYTHON is not set (no stand-alone environment with Ray)")
def test_cluster_suite_passes_on_the_standalone_stack():
    versions = subprocess.run(
        [STANDALONE_PYTHON, "-c", "import ray, pydantic, pyarrow, numpy; print(ray.__version__, "
         "pydantic.VERSION.split('.')[0], pyarrow.__version__.split('.')[0], numpy.__version__)"],
        capture_output=True, text=True, check=True).stdout.split()
    assert versions == ["2.60.0", "2", "19", "1.26.2"]
    result = subprocess.run([STANDALONE_PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "tests/cluster"],
                            cwd=ROOT, capture_output=True, text=True, timeout=1200)
    last = result.stdout.splitlines()[-1] if result.stdout else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in last and "skipped" not in last, last
