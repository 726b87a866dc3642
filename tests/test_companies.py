"""The companies stream, and users attached to the companies their records name."""

from __future__ import annotations

from typing import Any, Dict, List

from tests.conftest import record, schema, state

COMPANY_PROPS: Dict[str, Any] = {
    "company_id": {"type": ["string", "integer"]},
    "name": {"type": ["null", "string"]},
    "plan": {"type": ["null", "string"]},
    "size": {"type": ["null", "integer"]},
    "website": {"type": ["null", "string"]},
    "industry": {"type": ["null", "string"]},
    "monthly_spend": {"type": ["null", "number"]},
    "remote_created_at": {"type": ["null", "string"], "format": "date-time"},
    "seats": {"type": ["null", "integer"]},
    "tier": {"type": ["null", "string"]},
}
USER_PROPS: Dict[str, Any] = {
    "user_id": {"type": ["string"]},
    "email": {"type": ["null", "string"]},
    "companies": {},
}
BOTH = {"companies_stream": "companies"}


def companies_schema(properties: Dict[str, Any] = COMPANY_PROPS) -> Dict:
    return schema("companies", properties, key_properties=("company_id",))


def company(rec: Dict[str, Any]) -> Dict:
    return record(rec, stream="companies")


def users_schema() -> Dict:
    return schema("users", USER_PROPS, key_properties=("user_id",))


def by_company_id(emulator) -> Dict[str, Dict[str, Any]]:
    return {c["company_id"]: c for c in emulator.companies()}


def attached(emulator, user_id: str) -> List[str]:
    """The company_ids the user is attached to."""
    [contact] = [c for c in emulator.contacts() if c["external_id"] == user_id]
    by_id = {c["id"]: c["company_id"] for c in emulator.companies()}
    return sorted(by_id[entry["id"]] for entry in contact["companies"]["data"])


def summary(result) -> str:
    [line] = [line for line in result.stderr.splitlines() if line.startswith("INFO summary:")]
    return line


def test_company_records_become_companies_with_their_fields_and_custom_attributes(target, emulator) -> None:
    messages = [
        companies_schema(),
        company({
            "company_id": 42, "name": "Acme", "plan": "pro", "size": 120, "website": "https://acme.example",
            "industry": "Anvils", "monthly_spend": 155.98, "remote_created_at": "2024-06-01T12:00:00Z",
            "seats": 10, "tier": "gold",
        }),
        state(1),
    ]
    result = target.run(messages, config={"users_stream": None, **BOTH})
    assert result.returncode == 0, result
    acme = by_company_id(emulator)["42"]
    assert (acme["name"], acme["plan"]["name"], acme["size"], acme["website"], acme["industry"]) == (
        "Acme", "pro", 120, "https://acme.example", "Anvils",
    )
    # Intercom keeps whole units of monthly_spend, and so does the target (fractions dropped).
    assert (acme["monthly_spend"], acme["remote_created_at"]) == (155, 1717243200)
    assert acme["custom_attributes"] == {"seats": 10, "tier": "gold"}
    company_attributes = {a["name"]: a["data_type"] for a in emulator.data_attributes("company") if a["custom"]}
    assert company_attributes == {"seats": "integer", "tier": "string"}
    assert result.states == [1]
    assert "1 companies read; created 1, updated 0, unchanged 0, rejected 0" in summary(result)


def test_companies_field_overrides_name_the_source_fields(target, emulator) -> None:
    props = {"account_id": {"type": "string"}, "account_name": {"type": "string"}, "name": {"type": "string"}}
    messages = [companies_schema(props), company({"account_id": "a1", "account_name": "Acme", "name": "ignored?"})]
    overrides = {"company_id": "account_id", "name": "account_name"}
    result = target.run(messages, config={"users_stream": None, **BOTH, "companies_field_overrides": overrides})
    assert result.returncode == 0, result
    [acme] = emulator.companies()
    assert (acme["company_id"], acme["name"]) == ("a1", "Acme")
    # A field named like a core field the overrides take from elsewhere is not a custom attribute.
    assert acme["custom_attributes"] == {}


def test_records_for_one_company_are_written_in_input_order_and_the_later_values_win(target, emulator) -> None:
    messages = [companies_schema()]
    messages += [company({"company_id": "c1", "name": f"Version {i}", "size": i}) for i in range(5)]
    messages += [company({"company_id": f"other{i}"}) for i in range(7)]
    messages += [company({"company_id": "c1", "name": "Last"})]
    result = target.run(messages, config={"users_stream": None, **BOTH, "batch_size": 3})
    assert result.returncode == 0, result
    c1 = by_company_id(emulator)["c1"]
    assert (c1["name"], c1["size"]) == ("Last", 4)
    assert len(emulator.companies()) == 8


def test_a_rerun_writes_no_company_that_holds_its_values(target, emulator) -> None:
    users = [users_schema()] + [
        record({"user_id": f"u{i}", "email": f"u{i}@example.com", "companies": f"c{i % 3}"}) for i in range(6)
    ]
    messages = [companies_schema()] + [company({"company_id": f"c{i}", "name": f"Co {i}"}) for i in range(3)] + users
    first = target.run(messages, config=BOTH)
    assert first.returncode == 0, first
    writes = emulator.count("POST /companies") + emulator.count("POST /contacts/{id}/companies")
    second = target.run(messages, config=BOTH)
    assert second.returncode == 0, second
    assert emulator.count("POST /companies") + emulator.count("POST /contacts/{id}/companies") == writes
    assert "3 companies read; created 0, updated 0, unchanged 3, rejected 0" in summary(second)


def test_a_small_sync_does_not_read_every_company_of_a_large_workspace(target, emulator) -> None:
    emulator.seed_contact(external_id="owner", email="owner@example.com")
    emulator.seed_companies({"company_id": f"old{i}", "external_ids": ["owner"]} for i in range(900))
    messages = [companies_schema(), company({"company_id": "old7", "name": "Renamed"}), company({"company_id": "new"})]
    result = target.run(messages, config={"users_stream": None, **BOTH})
    assert result.returncode == 0, result
    assert by_company_id(emulator)["old7"]["name"] == "Renamed"
    # One page of the listing tells how large the workspace is, and looking the two companies up shows them
    # changed or new: the other 14 pages are not read.
    assert emulator.count("POST /companies/list") == 1
    assert emulator.count("GET /companies") == 2
    assert emulator.count("POST /companies") == 2


def test_a_full_resync_reads_the_workspace_once_and_writes_no_unchanged_company(target, emulator) -> None:
    emulator.seed_contact(external_id="owner", email="owner@example.com")
    emulator.seed_companies({"company_id": f"c{i}", "name": f"Co {i}", "external_ids": ["owner"]} for i in range(300))
    messages = [companies_schema()] + [company({"company_id": f"c{i}", "name": f"Co {i}"}) for i in range(300)]
    result = target.run(messages, config={"users_stream": None, **BOTH})
    assert result.returncode == 0, result
    assert emulator.count("POST /companies") == 0
    assert emulator.count("POST /companies/list") == 5  # 300 companies, 60 a page
    assert emulator.count("GET /companies") <= 5
    assert "300 companies read; created 0, updated 0, unchanged 300, rejected 0" in summary(result)


def test_users_are_attached_to_the_companies_their_records_name(target, emulator) -> None:
    emulator.seed_company(company_id="c1", name="One")
    emulator.seed_company(company_id="7", name="Seven")
    messages = [
        users_schema(),
        record({"user_id": "list", "email": "list@example.com", "companies": ["c1", {"company_id": 7}]}),
        record({"user_id": "scalar", "email": "scalar@example.com", "companies": "c1"}),
        record({"user_id": "none", "email": "none@example.com", "companies": None}),
        state(1),
    ]
    result = target.run(messages)
    assert result.returncode == 0, result
    assert attached(emulator, "list") == ["7", "c1"]
    assert attached(emulator, "scalar") == ["c1"]
    assert attached(emulator, "none") == []
    # The companies held their fields; naming one by its id changes nothing.
    assert by_company_id(emulator)["c1"]["name"] == "One"
    assert "companies attached 3" in summary(result)
    assert result.states == [1]


def test_a_company_id_column_mapped_as_companies_attaches_one_company(target, emulator) -> None:
    props = {"user_id": {}, "email": {}, "company_id": {"type": "integer"}}
    messages = [schema("users", props), record({"user_id": "u1", "email": "u1@example.com", "company_id": 5})]
    result = target.run(messages, config={"reserved_field_overrides": {"companies": "company_id"}})
    assert result.returncode == 0, result
    assert attached(emulator, "u1") == ["5"]
    [contact] = emulator.contacts()
    assert contact["custom_attributes"] == {}


def test_a_company_object_with_fields_is_written_before_the_user_is_attached(target, emulator) -> None:
    messages = [
        users_schema(),
        record({"user_id": "u1", "email": "u1@example.com",
                "companies": [{"company_id": "c9", "name": "Nine", "plan": "team", "custom_attributes": {"tier": "gold"}}]}),
    ]
    result = target.run(messages)
    assert result.returncode == 0, result
    nine = by_company_id(emulator)["c9"]
    assert (nine["name"], nine["plan"]["name"], nine["custom_attributes"]) == ("Nine", "team", {"tier": "gold"})
    assert attached(emulator, "u1") == ["c9"]
    assert "companies named by users: created 1, updated 0, unchanged 0" in summary(result)


def test_remove_true_detaches_the_user_and_leaves_other_companies(target, emulator) -> None:
    emulator.seed_contact(external_id="u1", email="u1@example.com")
    emulator.seed_company(company_id="keep", external_ids=["u1"])
    emulator.seed_company(company_id="drop", external_ids=["u1"])
    messages = [users_schema(), record({"user_id": "u1", "companies": [{"company_id": "drop", "remove": True}]})]
    result = target.run(messages)
    assert result.returncode == 0, result
    assert attached(emulator, "u1") == ["keep"]
    assert emulator.count("DELETE /contacts/{id}/companies/{company_id}") == 1
    assert "companies detached 1" in summary(result)


def test_attachments_the_contact_already_has_cost_nothing(target, emulator) -> None:
    emulator.seed_contact(external_id="u1", email="u1@example.com")
    emulator.seed_company(company_id="c1", external_ids=["u1"])
    messages = [users_schema(), record({"user_id": "u1", "email": "u1@example.com", "companies": ["c1"]})]
    result = target.run(messages)
    assert result.returncode == 0, result
    assert emulator.count("POST /contacts/{id}/companies") == 0
    assert emulator.count("PUT /contacts/{id}") == 0


def test_an_attachment_waits_for_the_company_written_before_it_in_the_input(target, emulator) -> None:
    emulator.configure(latency=0.05)
    messages = [
        companies_schema(), company({"company_id": "c1", "name": "Written first"}),
        users_schema(), record({"user_id": "u1", "email": "u1@example.com", "companies": ["c1"]}),
    ]
    result = target.run(messages, config=BOTH)
    assert result.returncode == 0, result
    log = [r for r in emulator.requests if r.endpoint in ("POST /companies", "POST /contacts/{id}/companies")]
    # One upsert, carrying the record's name, answered before the attachment was sent.
    assert [r.endpoint for r in log] == ["POST /companies", "POST /contacts/{id}/companies"]
    assert log[0].time + log[0].duration <= log[1].time
    assert by_company_id(emulator)["c1"]["name"] == "Written first"
    assert attached(emulator, "u1") == ["c1"]


def test_no_state_is_printed_past_an_attachment_intercom_did_not_confirm(target, emulator) -> None:
    emulator.fail_next(None, status=503, match_method="POST", match_path=r"^/contacts/[^/]+/companies$")
    messages = [
        companies_schema(), company({"company_id": "c1"}), state(1),
        users_schema(), record({"user_id": "u1", "email": "u1@example.com", "companies": ["c1"]}), state(2),
    ]
    result = target.run(messages, config={**BOTH, "max_retry_time": 1})
    assert result.returncode == 1
    assert result.states == [1]
    assert "Intercom did not complete POST /contacts/{id}/companies within max_retry_time" in result.stderr


def test_a_user_naming_a_rejected_company_is_rejected_with_that_reason(target, emulator) -> None:
    messages = [
        companies_schema({"company_id": {}, "size": {}}), company({"company_id": "c1", "size": "lots"}),
        users_schema(), record({"user_id": "u1", "email": "u1@example.com", "companies": ["c1"]}),
        companies_schema(), company({"company_id": "c2", "size": "many"}),
        record({"user_id": "u2", "email": "u2@example.com", "companies": ["c2"]}),
    ]
    result = target.run(messages, config={**BOTH, "max_rejected_records": 5, "rejected_records_file": "rejects.jsonl"})
    assert result.returncode == 0, result
    assert emulator.companies() == [] and emulator.contacts() == []
    reasons = sorted((r["stream"], r["line"], r["reason"]) for r in result.rejects)
    assert reasons[0] == ("companies", 2, 'size: expected an integer, got "lots"')
    assert reasons[2] == (
        "users", 4, 'company c1 was not written: its record at line 2 was not loaded: size: expected an integer, got "lots"'
    )
    # A record that breaks its stream's SCHEMA is rejected for that, with the same effect.
    assert reasons[1][:2] == ("companies", 6) and reasons[1][2].startswith("does not match the stream's schema: size")
    assert reasons[3][:2] == ("users", 7) and reasons[3][2].startswith("company c2 was not written: its record at")


def test_records_that_cannot_name_their_companies_are_rejected_in_one_line(target, emulator) -> None:
    messages = [
        companies_schema(), company({"name": "No id"}),
        users_schema(),
        record({"user_id": "u1", "email": "u1@example.com", "companies": [["nested"]]}),
        record({"user_id": "u2", "email": "u2@example.com", "companies": [{"name": "no id"}]}),
        record({"user_id": "u3", "email": "u3@example.com", "companies": [{"company_id": "c", "remove": "yes"}]}),
    ]
    result = target.run(messages, config={**BOTH, "max_rejected_records": 4, "rejected_records_file": "rejects.jsonl"})
    assert result.returncode == 0, result
    assert "Traceback" not in result.stderr
    assert [(r["line"], r["error_code"]) for r in result.rejects] == [
        (2, "missing_identifier"), (4, "invalid_value"), (5, "invalid_value"), (6, "invalid_value"),
    ]
    assert "has no company_id (the company's company_id)" in result.rejects[0]["reason"]
    assert "companies: expected text or an integer" in result.rejects[1]["reason"]
    assert "a company object has no company_id" in result.rejects[2]["reason"]
    assert "'remove' must be true or false" in result.rejects[3]["reason"]
    assert emulator.contacts() == [] and emulator.companies() == []


def test_a_company_attribute_value_intercom_refuses_rejects_the_record_in_one_line(target, emulator) -> None:
    emulator.seed_data_attribute("region", "options", model="company", options=[{"value": "eu"}, {"value": "us"}])
    messages = [companies_schema({"company_id": {}, "region": {}}), company({"company_id": "c1", "region": "mars"})]
    result = target.run(messages, config={"users_stream": None, **BOTH})
    assert result.returncode == 1
    [line] = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert line.startswith("ERROR rejected the record at line 2 (company_id c1): Intercom refused it (400 ")
    assert "region" in line and "Traceback" not in result.stderr


def test_the_same_company_created_by_two_writers_at_once_is_written_on_the_second_try(target, emulator) -> None:
    emulator.company_race_next(1)
    result = target.run([companies_schema(), company({"company_id": "c1", "name": "Raced"})],
                        config={"users_stream": None, **BOTH})
    assert result.returncode == 0, result
    assert by_company_id(emulator)["c1"]["name"] == "Raced"
    assert emulator.count("POST /companies") == 2


def test_bulk_mode_writes_companies_through_bulk_jobs(target, emulator) -> None:
    messages = [companies_schema()] + [company({"company_id": f"c{i}", "name": f"Co {i}", "seats": i}) for i in range(150)]
    messages += [state(1)]
    result = target.run(messages, config={"users_stream": None, **BOTH, "write_mode": "bulk"})
    assert result.returncode == 0, result
    companies = by_company_id(emulator)
    assert len(companies) == 150 and companies["c149"]["custom_attributes"] == {"seats": 149}
    assert emulator.count("POST /companies/bulk") == 2
    assert emulator.count("POST /companies") == 0
    assert result.states == [1]


def test_bulk_mode_checks_each_company_of_a_task_that_ended_with_errors(target, emulator) -> None:
    emulator.seed_data_attribute("tier", "options", model="company", options=[{"value": "gold"}, {"value": "silver"}])
    messages = [companies_schema()] + [company({"company_id": f"c{i}", "tier": "gold"}) for i in range(4)]
    messages += [company({"company_id": "bad", "tier": "platinum"}), state(1)]
    config = {"users_stream": None, **BOTH, "write_mode": "bulk", "max_rejected_records": 1,
              "rejected_records_file": "rejects.jsonl"}
    result = target.run(messages, config=config)
    assert result.returncode == 0, result
    [job] = emulator.bulk_jobs()
    assert [task["state"] for task in job["tasks"]] == ["completed_with_errors"]
    assert sorted(by_company_id(emulator)) == ["c0", "c1", "c2", "c3"]
    assert [r["identifiers"] for r in result.rejects] == [{"company_id": "bad"}]
    assert "tier" in result.rejects[0]["reason"]
    # Each item of the failed task was read back; only the one not written was sent again.
    assert emulator.count("GET /companies") == 5
    assert emulator.count("POST /companies") == 1
    assert result.states == [1]


def test_dry_run_counts_companies_and_attachments_and_writes_nothing(target, emulator) -> None:
    emulator.seed_company(company_id="old", name="Old")
    messages = [
        companies_schema(), company({"company_id": "old", "name": "Old"}), company({"company_id": "new"}),
        users_schema(), record({"user_id": "u1", "email": "u1@example.com", "companies": ["old", "new"]}),
    ]
    result = target.run(messages, config=BOTH, args=["--dry-run"])
    assert result.returncode == 0, result
    plan = [line for line in result.stderr.splitlines() if line.startswith("plan")]
    assert plan[0] == (
        "plan (dry run, nothing was written): users: create 1, update 0, unchanged 0, reject 0, "
        "companies attached 2; companies: create 1, update 0, unchanged 1, reject 0"
    )
    assert emulator.count("POST /companies") == emulator.count("POST /contacts") == 0
    assert [c["company_id"] for c in emulator.companies()] == ["old"]


def test_a_user_naming_a_company_of_the_companies_stream_waits_for_its_write(target, emulator) -> None:
    # The company's write answers late; a user attached before it would upsert the company a second time.
    emulator.delay_next(1, seconds=0.5, match_method="POST", match_path="^/companies$")
    messages = [
        companies_schema(), company({"company_id": "c1", "name": "Acme"}),
        users_schema(), record({"user_id": "u1", "email": "u1@example.com", "companies": ["c1"]}),
    ]
    result = target.run(messages, config=BOTH)
    assert result.returncode == 0, result
    assert emulator.count("POST /companies") == 1
    assert attached(emulator, "u1") == ["c1"]
