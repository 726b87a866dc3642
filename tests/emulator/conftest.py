"""Fixtures for the emulator's own tests.

pytest only honours ``pytest_plugins`` in the root conftest, so the plugin's fixtures are imported here.
"""
from __future__ import annotations

from typing import Iterator

import httpx
import pytest

from intercom_emulator import Emulator
from intercom_emulator.pytest_plugin import emulator, emulator_factory  # noqa: F401  (fixtures)
from intercom_emulator.testing import make_client


@pytest.fixture
def api(emulator: Emulator) -> Iterator[httpx.Client]:  # noqa: F811
    """Raw HTTP client speaking Intercom-Version 2.14 with the emulator's token."""
    with make_client(emulator) as client:
        yield client


@pytest.fixture
def preview(emulator: Emulator) -> Iterator[httpx.Client]:  # noqa: F811
    """Raw HTTP client speaking Intercom-Version Preview."""
    with make_client(emulator, version="Preview") as client:
        yield client
