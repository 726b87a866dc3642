"""pytest fixtures: register with ``pytest_plugins = ["intercom_emulator.pytest_plugin"]`` in a root conftest.

``emulator`` is a fresh, started Emulator per test; its token is ``emulator.token``.
``emulator_factory(**settings)`` starts further emulators with other settings, stopped after the test.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, List

import pytest

from .emulator import Emulator

# Distinctive, so that a test which leaks it into output or logs is easy to spot.
TEST_TOKEN = "iem-test-token-5b9e31c7"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator(token=TEST_TOKEN).start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., Emulator]]:
    started: List[Emulator] = []

    def make(**settings: Any) -> Emulator:
        settings.setdefault("token", TEST_TOKEN)
        emu = Emulator(**settings).start()
        started.append(emu)
        return emu

    try:
        yield make
    finally:
        for emu in started:
            emu.stop()
