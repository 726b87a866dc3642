"""Reading Singer messages from the input and checking them.

`read_messages` turns input lines into typed messages, failing with the line
number on anything that is not a Singer message. `SchemaBook` remembers each
stream's SCHEMA and checks records against it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Union

import jsonschema

from target_intercom.errors import InputError
from target_intercom.stop import POLL_SECONDS, StopRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchemaMessage:
    stream: str
    schema: Dict[str, Any]
    key_properties: List[str]
    line: int


@dataclass(frozen=True)
class RecordMessage:
    stream: str
    record: Dict[str, Any]
    line: int


@dataclass(frozen=True)
class StateMessage:
    value: Any
    line: int


@dataclass(frozen=True)
class ActivateVersionMessage:
    stream: str
    version: Any
    line: int


Message = Union[SchemaMessage, RecordMessage, StateMessage, ActivateVersionMessage]


@dataclass(frozen=True)
class InputIdle:
    """Not a Singer message: no line has come for IDLE_SECONDS (the tap is paused or slow)."""


# Seconds without a line after which the input counts as idle.
IDLE_SECONDS = 1.0
# The input is read in blocks of BLOCK_SIZE bytes, at most READ_AHEAD_BLOCKS ahead of the loader.
BLOCK_SIZE = 1 << 16
READ_AHEAD_BLOCKS = 16


def pump_lines(read: Callable[[int], bytes], stop: StopRequest) -> Iterator[Optional[bytes]]:
    """The input's lines (without b"\\n"), and None once whenever none came for IDLE_SECONDS.

    A thread of its own reads ahead, so that a stop request is seen even while
    the tap sends nothing, but only READ_AHEAD_BLOCKS blocks: memory must not
    depend on how long the lines are. It reads unbuffered, because a thread
    blocked in sys.stdin's buffer holds its lock, and Python aborts at exit
    when it cannot take that lock: whenever a run ends while the tap still writes.
    """
    blocks: "queue.Queue[Union[bytes, OSError, None]]" = queue.Queue(maxsize=READ_AHEAD_BLOCKS)

    def pump() -> None:
        try:
            while True:
                block = read(BLOCK_SIZE)
                if not block:
                    break
                blocks.put(block)
        except OSError as exc:
            blocks.put(exc)
            return
        blocks.put(None)

    threading.Thread(target=pump, name="input", daemon=True).start()
    head: List[bytes] = []  # the start of a line that spans blocks
    idle_since: Optional[float] = time.monotonic()
    while True:
        try:
            block = blocks.get(timeout=POLL_SECONDS)
        except queue.Empty:
            stop.check()
            if idle_since is not None and time.monotonic() - idle_since >= IDLE_SECONDS:
                idle_since = None
                yield None
            continue
        stop.check()
        if block is None:
            break
        if isinstance(block, OSError):
            raise InputError(f"the input cannot be read: {block.strerror or block}")
        idle_since = time.monotonic()
        if b"\n" not in block:
            head.append(block)
            continue
        lines = block.split(b"\n")
        if head:
            head.append(lines[0])
            lines[0], head = b"".join(head), []
        tail = lines.pop()
        yield from lines
        if tail:
            head.append(tail)
    if head:
        yield b"".join(head)


def read_messages(lines: Iterable[Optional[bytes]]) -> Iterator[Union[Message, InputIdle]]:
    """Parse raw input lines (bytes) into messages; blank lines are skipped, None means idle."""
    ignored_types: Set[str] = set()
    number = 0
    for raw in lines:
        if raw is None:
            yield InputIdle()
            continue
        number += 1
        if not raw.strip():
            continue
        message = _parse_line(raw, number)
        kind = str(message.get("type", "")).upper()
        if kind == "RECORD":
            yield RecordMessage(
                stream=_required_str(message, "stream", number),
                record=_required_object(message, "record", number),
                line=number,
            )
        elif kind == "SCHEMA":
            key_properties = message.get("key_properties") or []
            yield SchemaMessage(
                stream=_required_str(message, "stream", number),
                schema=_required_object(message, "schema", number),
                key_properties=list(key_properties),
                line=number,
            )
        elif kind == "STATE":
            if "value" not in message:
                raise InputError(f"line {number}: STATE message has no 'value'")
            yield StateMessage(value=message["value"], line=number)
        elif kind == "ACTIVATE_VERSION":
            yield ActivateVersionMessage(
                stream=_required_str(message, "stream", number),
                version=message.get("version"),
                line=number,
            )
        elif not kind:
            raise InputError(f"line {number}: message has no 'type'")
        elif kind not in ignored_types:
            ignored_types.add(kind)
            logger.warning("line %d: messages of type %s are not supported and are ignored", number, kind)


def _parse_line(raw: bytes, number: int) -> Dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"line {number}: not valid UTF-8 (byte {exc.start + 1})") from None
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise InputError(f"line {number}: not valid JSON ({_short_json_error(exc)})") from None
    except RecursionError:
        raise InputError(f"line {number}: not valid JSON (nested too deeply)") from None
    if not isinstance(message, dict):
        raise InputError(f"line {number}: a Singer message must be a JSON object, got {type(message).__name__}")
    return message


def _short_json_error(exc: ValueError) -> str:
    msg = getattr(exc, "msg", None)
    col = getattr(exc, "colno", None)
    return f"{msg} at column {col}" if msg and col else str(exc)


def _required_str(message: Dict[str, Any], key: str, number: int) -> str:
    value = message.get(key)
    if not isinstance(value, str) or not value:
        kind = message.get("type")
        raise InputError(f"line {number}: {kind} message needs a string '{key}'")
    return value


def _required_object(message: Dict[str, Any], key: str, number: int) -> Dict[str, Any]:
    value = message.get(key)
    if not isinstance(value, dict):
        kind = message.get("type")
        raise InputError(f"line {number}: {kind} message needs an object '{key}'")
    return value


class SchemaBook:
    """The latest SCHEMA of each stream, and record checks against it."""

    def __init__(self) -> None:
        self._schemas: Dict[str, Dict[str, Any]] = {}
        self._validators: Dict[str, jsonschema.Draft4Validator] = {}

    def add(self, message: SchemaMessage) -> None:
        try:
            jsonschema.Draft4Validator.check_schema(message.schema)
        except jsonschema.SchemaError as exc:
            raise InputError(
                f"line {message.line}: the SCHEMA of stream '{message.stream}' is not a valid JSON Schema: {exc.message}"
            ) from None
        self._schemas[message.stream] = message.schema
        self._validators[message.stream] = jsonschema.Draft4Validator(message.schema)

    def schema(self, stream: str) -> Optional[Dict[str, Any]]:
        return self._schemas.get(stream)

    def require(self, message: RecordMessage) -> None:
        """Fail the run on a record whose stream has had no SCHEMA yet."""
        if message.stream not in self._schemas:
            raise InputError(
                f"line {message.line}: RECORD of stream '{message.stream}' arrived before its SCHEMA"
            )

    def violation(self, message: RecordMessage) -> Optional[str]:
        """Why the record does not match its stream's schema, or None if it does."""
        error = jsonschema.exceptions.best_match(self._validators[message.stream].iter_errors(message.record))
        if error is None:
            return None
        where = "/".join(str(part) for part in error.path) or "record"
        return f"does not match the stream's schema: {where}: {_clip(error.message)}"


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
