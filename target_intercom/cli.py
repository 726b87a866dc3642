"""The `target-intercom` command: arguments, logging, exit codes.

Exit codes: 0 the run completed (rejected records within max_rejected_records
included); 1 the run failed (bad input, Intercom refused the token or stayed
unavailable, too many rejected records); 2 the command line or configuration
is wrong; 130 or 143 interrupted by SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import sys
from typing import Callable, Iterator, List, Optional, Sequence

from target_intercom import __version__, about
from target_intercom.config import Config, load_config
from target_intercom.errors import InputError, Interrupted, TargetError
from target_intercom.stop import StopRequest
from target_intercom.run import Run

logger = logging.getLogger("target_intercom")

# After SIGTERM or SIGINT, writes under way get this long (at most the request
# timeout) to finish before they are abandoned.
STOP_GRACE_SECONDS = 10.0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parse_args(argv)
    if args.about:
        sys.stdout.write(about.render(args.format))
        return 0
    handler = _configure_logging(args.log_level)
    try:
        config = load_config(args.config, dry_run=args.dry_run)
        handler.setFormatter(_RedactingFormatter([config.access_token]))
        stop = StopRequest()
        stop.install()
        with _open_input(args.input) as read:
            _run(config, read, stop)
    except TargetError as exc:
        logger.error("%s", exc)
        return exc.exit_code
    except Exception:  # noqa: BLE001 - a bug: say so, with the traceback to report
        logger.exception("target-intercom stopped on an unexpected error; please report it with this output")
        return 1
    return 0


def _run(config: Config, read: Callable[[int], bytes], stop: StopRequest) -> None:
    run = Run(config, sys.stdout, stop)
    try:
        run.process(read)
    except Interrupted as exc:
        grace = min(STOP_GRACE_SECONDS, config.request_timeout)
        logger.warning("%s: finishing the writes under way (at most %g s)", exc, grace)
        if not run.stop(exc, grace):
            run.reporter.finish(config.dry_run)
            logger.error("%s; writes still under way were abandoned", exc)
            sys.stdout.flush()
            # Worker threads blocked in requests would hold the exit up to the
            # request timeout; every confirmed STATE is already printed.
            os._exit(exc.exit_code)
        raise
    finally:
        run.close()
    if config.dry_run:
        sys.stderr.write("".join(line + "\n" for line in run.plan()))


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="target-intercom",
        description="Singer target: loads the users stream's records into Intercom as contacts.",
    )
    parser.add_argument(
        "-c", "--config", action="append", default=[], metavar="FILE",
        help="JSON config file; repeat to merge several (later files win)",
    )
    parser.add_argument("--input", metavar="FILE", help="read Singer messages from FILE instead of stdin")
    parser.add_argument("--dry-run", action="store_true", help="look users up but write nothing; print the plan")
    parser.add_argument(
        "--log-level", default="INFO", type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="stderr log level (default INFO)",
    )
    parser.add_argument("--about", action="store_true", help="describe the target and its settings, then exit")
    parser.add_argument(
        "--format", choices=["json", "markdown"], default="json", help="format of --about (default json)"
    )
    parser.add_argument("--version", action="version", version=f"target-intercom {__version__}")
    return parser.parse_args(argv)


class _RedactingFormatter(logging.Formatter):
    """Keeps secrets out of every log line, whatever library wrote it."""

    def __init__(self, secrets: List[str]) -> None:
        super().__init__("%(levelname)s %(message)s")
        # Too short a "secret" would mangle every line; real tokens are long.
        self._secrets = [s for s in secrets if len(s) >= 8]

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, "<redacted>")
        return text


def _configure_logging(level: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter([]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO; that is noise at INFO and a risk at DEBUG.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler


@contextlib.contextmanager
def _open_input(path: Optional[str]) -> Iterator[Callable[[int], bytes]]:
    """An unbuffered read of stdin or the file: bytes, up to the size asked for; b"" at the end."""
    if path is None:
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, ValueError, OSError):
            raise InputError("stdin is closed; give the input on stdin or with --input FILE") from None
        yield functools.partial(os.read, fd)
        return
    try:
        handle = open(path, "rb", buffering=0)
    except OSError as exc:
        raise TargetError(f"--input {path} cannot be read: {exc.strerror}") from None
    with handle:
        yield handle.read
