"""A local emulator of Intercom's REST API for tests, benchmarks and demos (standard library only)."""
from __future__ import annotations

from .emulator import Emulator
from .errors import ApiError
from .reqlog import RequestRecord

__all__ = ["Emulator", "RequestRecord", "ApiError"]
