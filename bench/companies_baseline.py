"""The naive companies baseline: what peer targets do for a company, one row at a time, with the SDK.

This is the peers' "group" pattern (RudderStack's Group, Segment's Identify
Company, Airbyte's experimental destination; see /work/shared/research/peers.md):
per row, strictly sequentially, with the python-intercom SDK pinned to
Intercom-Version 2.14,

1. ``contacts.search`` for the row's user (``external_id`` = its user_id; one page,
   one call);
2. ``companies.create_or_update`` (``POST /companies``) with every field of the
   company: core fields as such, everything else as custom attributes,
   date-time fields (by the SCHEMA's format) as Unix seconds;
3. ``companies.attach_contact`` (``POST /contacts/{id}/companies``) when the
   search found the user, whether or not it is attached already.

About 3 calls a row, 2 when the user does not exist. It never compares values
with what Intercom holds, so it writes unchanged companies too, and it
remembers nothing between rows.

Rows of the companies stream are companies; the user a row's company belongs to
is named by its ``primary_user_id`` field (``--user-field``), which is also sent
as a custom attribute, like every other non-core field. Rows of the users stream
are users: the user is written as ``baseline.py`` writes it (search, then
update or create: the search is the one of step 1), then each company its
``companies`` field names (company ids, or objects with a company_id) is
upserted with what the row gives of it and the user attached to it: 4 calls a
user naming one company, 2 without the field.

A 429 is retried once the window resets, as in ``baseline.py``; any other error
is logged and the row counted as failed. STATE values are printed on stdout as
they are read. Progress goes to stderr.

    python bench/companies_baseline.py --config config.json < companies.jsonl

The config is the target's (access_token, base_url, and users_stream and/or
companies_stream).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

from intercom import CreateOrUpdateCompanyRequest, Intercom
from intercom.core.api_error import ApiError

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baseline import Baseline, load_client, run_peer, unix_seconds  # noqa: E402

COMPANY_CORE = ("company_id", "name", "plan", "size", "website", "industry", "monthly_spend", "remote_created_at")


class CompaniesBaseline(Baseline):
    def __init__(self, client: Intercom, users_stream: Optional[str], companies_stream: Optional[str],
                 expected: int, user_field: str, companies_field: str = "companies") -> None:
        super().__init__(client, users_stream or "", expected)
        self.companies_stream = companies_stream
        self.user_field = user_field
        self.companies_field = companies_field
        self.company_date_fields: Set[str] = set()
        self.counts.update({"companies upserted": 0, "attached": 0, "user not found": 0})
        self.noun = "rows"

    def process(self, line: bytes) -> None:
        if not line.strip():
            return
        message = json.loads(line)
        kind, stream = message.get("type"), message.get("stream")
        if stream is not None and stream == self.companies_stream:
            if kind == "SCHEMA":
                properties = message["schema"].get("properties") or {}
                self.company_date_fields = {n for n, spec in properties.items() if spec.get("format") == "date-time"}
            elif kind == "RECORD":
                self.company_row(message["record"])
        elif kind == "RECORD" and stream == self.stream:
            self.user_row(message["record"])
        else:
            super().process(line)  # the users stream's SCHEMA, and STATE

    def company_row(self, record: Dict[str, Any]) -> None:
        """Search the company's user, upsert the company, attach the user."""
        self.counts["records"] += 1
        try:
            contact = self.search(record[self.user_field]) if record.get(self.user_field) else None
            company_id = self.upsert_company(record, self.company_date_fields)
            self.attach(contact.id if contact is not None else None, company_id)
        except ApiError as exc:
            self.counts["failed"] += 1
            sys.stderr.write("baseline: company %s failed: %s %s\n" % (record.get("company_id"), exc.status_code,
                                                                        exc.body))
        self.progress()

    def user_row(self, record: Dict[str, Any]) -> None:
        """Write the user (search, then update or create), then upsert each company it names and attach it."""
        record = dict(record)
        named = record.pop(self.companies_field, None)
        contact_id = self.upsert(record)
        if contact_id is None or named is None:
            return
        items: List[Any] = named if isinstance(named, list) else [named]
        try:
            for item in items:
                fields = dict(item) if isinstance(item, dict) else {"company_id": item}
                self.attach(contact_id, self.upsert_company(fields, set()))
        except ApiError as exc:
            self.counts["failed"] += 1
            sys.stderr.write("baseline: companies of user %s failed: %s %s\n" % (record.get("user_id"),
                                                                                exc.status_code, exc.body))

    def upsert_company(self, record: Dict[str, Any], date_fields: Set[str]) -> str:
        """POST /companies with every field of the row; returns Intercom's id of the company."""
        core: Dict[str, Any] = {}
        custom: Dict[str, Any] = {}
        for name, value in record.items():
            if value is None:
                continue
            if name in date_fields:
                value = unix_seconds(value)
            if name in COMPANY_CORE:
                core[name] = str(value) if name == "company_id" else value
            else:
                custom[name] = value
        if custom:
            core["custom_attributes"] = custom
        company = self.call(lambda: self.client.companies.create_or_update(
            request=CreateOrUpdateCompanyRequest(**core)))
        self.counts["companies upserted"] += 1
        return company.id

    def attach(self, contact_id: Optional[str], company_id: str) -> None:
        if contact_id is None:
            self.counts["user not found"] += 1
            return
        self.call(lambda: self.client.companies.attach_contact(contact_id, company_id=company_id))
        self.counts["attached"] += 1


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="JSON with access_token, base_url and the stream names")
    parser.add_argument("--expected", type=int, default=0, help="number of rows, for the progress ETA")
    parser.add_argument("--user-field", default="primary_user_id",
                        help="the field of a company row that holds its user's user_id (default primary_user_id)")
    args = parser.parse_args(argv)
    config, client = load_client(args.config)
    baseline = CompaniesBaseline(client, config.get("users_stream"), config.get("companies_stream"), args.expected,
                                 args.user_field)
    return run_peer(baseline, "baseline")

if __name__ == "__main__":
    sys.exit(main())
