"""``python -m intercom_emulator``: run the emulator in the foreground until Ctrl-C or SIGTERM."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any, List, Optional

from .emulator import Emulator
from .settings import COMPANY_PUT_COMPANY_ID_CHOICES, LONG_TEXT_CHOICES, UNSUBSCRIBED_NULL_CHOICES


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m intercom_emulator",
                                description="Local emulator of Intercom's REST API (contacts, data attributes, "
                                            "companies, tags, data events, Preview bulk contacts and companies).")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port to bind; 0 picks a free one (default 8765)")
    p.add_argument("--token", default="demo", help="access token clients must send as a Bearer token")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every API request")
    p.add_argument("--jitter", type=float, default=0.0, help="uniform +/- seconds around --latency")
    p.add_argument("--rate-limit", type=int, default=10_000,
                   help="requests per minute, enforced in 10 s windows; 0 disables limiting (default 10000)")
    p.add_argument("--search-lag", type=float, default=0.0,
                   help="seconds a new contact stays invisible to search")
    p.add_argument("--bulk-task-delay", type=float, default=0.2, help="seconds a bulk task runs")
    p.add_argument("--no-bulk", action="store_true", help="answer the Preview bulk endpoints with 404")
    p.add_argument("--default-version", default="2.14", help="API version for requests without Intercom-Version")
    p.add_argument("--clock-skew", type=float, default=0.0,
                   help="seconds Intercom's clock runs ahead of this machine's (negative: behind)")
    p.add_argument("--no-recorded-rate-limit-headers", action="store_true",
                   help="count X-RateLimit-Remaining after the request and reset on the boundary (old guess)")
    p.add_argument("--email-only-user-conflicts", action="store_true",
                   help="a create with an external_id 409s against a user with its email and no external_id")
    p.add_argument("--unsubscribed-null", choices=UNSUBSCRIBED_NULL_CHOICES, default="false",
                   help="what unsubscribed_from_emails: null does (guess; default false = re-subscribe)")
    p.add_argument("--long-text", choices=LONG_TEXT_CHOICES, default="reject",
                   help="what a string custom attribute over 255 characters does (guess; default reject)")
    p.add_argument("--search-max-in-values", type=int, default=0,
                   help="longest IN/NIN list search accepts; 0 = no limit (guess)")
    p.add_argument("--search-rejects-non-ids", action="store_true",
                   help="search answers 400 to id values that are not 24 lowercase hex characters (guess)")
    p.add_argument("--email-search-case-sensitive", action="store_true",
                   help="= and IN on email match case-sensitively (guess)")
    p.add_argument("--company-lookup-hides-userless", action="store_true",
                   help="GET /companies?company_id= answers 404 for a company without users (guess)")
    p.add_argument("--no-company-create-race", action="store_true",
                   help="overlapping creates of one new company_id both succeed (default: the later one gets 400)")
    p.add_argument("--company-put-company-id", choices=COMPANY_PUT_COMPANY_ID_CHOICES, default="reject",
                   help="what PUT /companies/{id} does with a company_id in its body (guess; default reject = 404)")
    p.add_argument("--company-scroll-expiry", type=float, default=60.0,
                   help="seconds an unused company scroll stays open (default 60)")
    p.add_argument("--tag-users-max", type=int, default=0,
                   help="most users one POST /tags takes; 0 = no limit (guess)")
    p.add_argument("--event-long-text", choices=LONG_TEXT_CHOICES, default="store",
                   help="what an event metadata string over 255 characters does (guess; default store)")
    p.add_argument("--seed", metavar="FILE",
                   help='JSON file {"admins": [...], "data_attributes": [...], "contacts": [...], "tags": [...], '
                        '"companies": [...]}')
    p.add_argument("--verbose", "-v", action="store_true", help="log one line per request to stderr")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        emu = Emulator(token=args.token, host=args.host, port=args.port, latency=args.latency, jitter=args.jitter,
                       rate_limit_per_minute=args.rate_limit or None, search_lag=args.search_lag,
                       bulk_task_delay=args.bulk_task_delay, bulk_enabled=not args.no_bulk,
                       default_version=args.default_version, verbose=args.verbose, clock_skew=args.clock_skew,
                       recorded_rate_limit_headers=not args.no_recorded_rate_limit_headers,
                       email_only_user_conflicts=args.email_only_user_conflicts,
                       unsubscribed_null=args.unsubscribed_null, long_text=args.long_text,
                       search_max_in_values=args.search_max_in_values or None,
                       search_rejects_non_ids_in_id_filter=args.search_rejects_non_ids,
                       email_search_case_sensitive=args.email_search_case_sensitive,
                       company_lookup_sees_userless=not args.company_lookup_hides_userless,
                       company_create_race=not args.no_company_create_race,
                       company_put_company_id=args.company_put_company_id,
                       company_scroll_expiry=args.company_scroll_expiry, tag_users_max=args.tag_users_max or None,
                       event_long_text=args.event_long_text)
    except (TypeError, ValueError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    if args.seed:
        try:
            with open(args.seed) as fh:
                seed: Any = json.load(fh)
            emu.seed(seed)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            print("error: cannot seed from %s: %s" % (args.seed, exc), file=sys.stderr)
            return 2

    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        emu.start()
    except OSError as exc:
        print("error: cannot listen on %s:%d: %s" % (args.host, args.port, exc.strerror or exc), file=sys.stderr)
        return 1
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("warning: the admin interface under /_emulator/ has no authentication", file=sys.stderr)
    print("Intercom emulator listening on %s" % emu.url, flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        emu.stop()
    print("Intercom emulator stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
