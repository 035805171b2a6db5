"""One local Ray instance for the whole cluster test session (2 CPUs, no dashboard): starting Ray costs 10-40 s on
a 2-core machine, so every test shares it. The tests skip when Ray is not importable (the WebUI stacks);
tests/test_cluster_stack.py runs them under the stand-alone environment, where they must pass."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """The GCS address of the session's Ray; its workers import ``tests.support`` (PYTHONPATH holds the repo)."""
    import ray

    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
