"""What `--about` prints: the target's name, version, capabilities and settings."""

from __future__ import annotations

import json
from typing import Any, Dict

from target_intercom import __version__
from target_intercom.config import ENV_PREFIX, describe_settings, schema_for_about

CAPABILITIES = ["about"]


def describe() -> Dict[str, Any]:
    return {
        "name": "target-intercom",
        "description": "Singer target that loads users into Intercom as contacts",
        "version": __version__,
        "supported_python_versions": ["3.9", "3.10", "3.11", "3.12", "3.13"],
        "capabilities": CAPABILITIES,
        "env_var_prefix": ENV_PREFIX,
        "settings": schema_for_about(),
    }


def render(fmt: str) -> str:
    if fmt == "json":
        return json.dumps(describe(), indent=2) + "\n"
    return _markdown()


def _markdown() -> str:
    info = describe()
    lines = [
        f"# {info['name']} {info['version']}",
        "",
        info["description"] + ".",
        "",
        "Capabilities: " + ", ".join(info["capabilities"]),
        "",
        "## Settings",
        "",
        "| setting | type | required | default | environment variable | description |",
        "|---|---|---|---|---|---|",
    ]
    for setting in describe_settings():
        default = "" if setting["default"] is None else json.dumps(setting["default"])
        description = setting["description"] + (" Secret." if setting["secret"] else "")
        lines.append(
            f"| `{setting['name']}` | {setting['type']} | {'yes' if setting['required'] else 'no'} "
            f"| {default} | `{setting['env']}` | {description} |"
        )
    return "\n".join(lines) + "\n"
