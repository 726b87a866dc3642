"""End to end on the bundled emulator: `python demo/run.py` (no Intercom account needed).

Starts the Intercom emulator on a free local port, pipes demo/companies.jsonl,
demo/users.jsonl and demo/events.jsonl (Singer messages from a tap: accounts,
their users with their tags, then the users' product events) into
target-intercom twice, and shows what the target printed and which companies,
contacts, tags and data events Intercom (the emulator) now holds. One user,
Charles, is in Intercom from an earlier sync and deleted at the source since
(his record carries `_sdc_deleted_at`): the run archives him. The second run
finds the companies and users unchanged and writes only what differs; its
events are sent again and Intercom drops every repeat, so none is counted
twice.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from intercom_emulator import Emulator  # noqa: E402

CONFIG = {
    "users_stream": "contacts",
    "reserved_field_overrides": {
        "user_id": "customer_id",
        "name": "full_name",
        "email": "email_address",
        "signed_up_at": "signed_up",
        "companies": "account_id",
    },
    "companies_stream": "accounts",
    "companies_field_overrides": {"company_id": "account_id", "name": "account_name", "tags": "segments"},
    "events_stream": "product_events",
    "events_field_overrides": {"event_name": "event", "created_at": "occurred_at", "user_id": "customer_id"},
}
INPUTS = ("companies.jsonl", "users.jsonl", "events.jsonl")


def run_target(config_path: Path) -> str:
    sys.stdout.flush()
    tap_output = b"".join((HERE / name).read_bytes() for name in INPUTS)
    done = subprocess.run(
        [sys.executable, "-m", "target_intercom", "--config", str(config_path)],
        input=tap_output,
        stdout=subprocess.PIPE,
        cwd=HERE.parent,
    )
    if done.returncode != 0:
        raise SystemExit(f"target-intercom exited with {done.returncode}")
    return done.stdout.decode()


def show_contacts(emulator: Emulator) -> None:
    tags = emulator.tags()
    companies = {c["id"]: c for c in emulator.companies()}
    print(f"\nIntercom (the emulator at {emulator.url}) now holds these companies:")
    for company in sorted(companies.values(), key=lambda c: c["company_id"]):
        names = sorted(t["name"] for t in tags if company["id"] in t["company_ids"])
        print(f"  {company['company_id']:>9}  {company['name']:<18} plan {company['plan']['name']:<10} "
              f"monthly_spend {company['monthly_spend']:<5} tags {names}")
        print(f"             custom_attributes {json.dumps(company['custom_attributes'], sort_keys=True)}")
    print("\nthese contacts:")
    for contact in sorted(emulator.contacts(include_archived=True), key=lambda c: c["external_id"] or ""):
        names = sorted(t["name"] for t in tags if contact["id"] in t["contact_ids"])
        account = [companies[c["id"]]["company_id"] for c in contact["companies"]["data"]]
        state = " (archived)" if contact.get("archived") else ""
        print(f"  {contact['external_id']:>6}  {contact['name'] or '':<24} {contact['email']:<24} "
              f"{contact['role']}{state}  companies {account}  tags {names}")
        print(f"          custom_attributes {json.dumps(contact['custom_attributes'], sort_keys=True)}")


def show_events(emulator: Emulator) -> None:
    users = {c["id"]: c["external_id"] for c in emulator.contacts()}
    print("\nand these data events:")
    for event in sorted(emulator.events(), key=lambda e: (e["created_at"], users.get(e["contact_id"]) or "")):
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(event["created_at"]))
        print(f"  {users.get(event['contact_id']):>6}  {event['event_name']:<13} {when}  "
              f"metadata {json.dumps(event['metadata'], sort_keys=True)}")


def main() -> None:
    with Emulator(token="demo-token") as emulator, tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "config.json"
        config_path.write_text(json.dumps({**CONFIG, "access_token": emulator.token, "base_url": emulator.url}))
        # Loaded by an earlier sync, and deleted at the source since.
        emulator.seed_contact(external_id="1005", email="charles@example.com", name="Charles Babbage")
        print("== first run: tap | target-intercom --config config.json")
        print("stdout (the STATE values, printed once Intercom confirmed the users before them):")
        print(run_target(config_path), end="")
        show_contacts(emulator)
        show_events(emulator)
        print("\n== second run, same input: companies and users Intercom already holds as sent are left alone")
        print("   (no write), and so are tags users and companies already have; Charles is already gone;")
        print("   only Grace's two records are written again (her first one differs from what her second one left)")
        print("   the events are sent again and Intercom drops each repeat (same user, name and time):")
        print(run_target(config_path), end="")
        print(f"\nIntercom still holds {len(emulator.events())} events; "
              f"it dropped {emulator.stats()['events_deduplicated']} repeats")
        print(f"\nAPI requests per endpoint over both runs: {json.dumps(emulator.counts(), sort_keys=True)}")


if __name__ == "__main__":
    main()
