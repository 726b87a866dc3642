"""Small helpers for tests that talk to an emulator over raw HTTP (needs httpx, which the SDK brings)."""
from __future__ import annotations

import ssl
from typing import Any, Dict, Optional

import httpx

from .emulator import Emulator


_SSL: Optional[ssl.SSLContext] = None


def make_client(emu: Emulator, version: Optional[str] = "2.14", token: Optional[str] = None,
                **kwargs: Any) -> httpx.Client:
    """An httpx client for ``emu`` sending its token and, unless ``version`` is None, an Intercom-Version."""
    headers = {"Authorization": "Bearer %s" % (token or emu.token)}
    if version is not None:
        headers["Intercom-Version"] = version
    kwargs.setdefault("timeout", 10)
    if "verify" not in kwargs:
        # Building an SSL context costs ~50 ms per client (even for http://); one shared context avoids it.
        global _SSL
        if _SSL is None:
            _SSL = ssl.create_default_context()
        kwargs["verify"] = _SSL
    return httpx.Client(base_url=emu.url, headers=headers, **kwargs)


def error_of(response: httpx.Response) -> Dict[str, Any]:
    """The single error of an Intercom ``error.list`` response (asserts the envelope)."""
    body = response.json()
    assert body["type"] == "error.list", body
    assert len(body["errors"]) == 1, body
    return body["errors"][0]
