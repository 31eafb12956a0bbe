"""pytest fixtures for ferry's end-to-end tests (see harness.py)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def sanitized():
    """True when the suite runs against the ASan+UBSan build (tests scale down)."""
    return os.environ.get("FERRY_SANITIZED") == "1"


@pytest.fixture
def ferry_binary():
    path = harness.ferry_binary()
    if not os.access(path, os.X_OK):
        pytest.fail(f"ferry binary not found at {path} (set FERRY_BINARY)")
    return path


@pytest.fixture
def start_ferry():
    """start_ferry(conf, ports={...}) -> harness.Ferry, stopped and checked at test end."""
    started = []

    def start(conf, **kw):
        f = harness.Ferry(conf, **kw)
        started.append(f)
        return f

    yield start
    errors = []
    for f in started:
        try:
            f.close()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors))
