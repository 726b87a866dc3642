"""Tags: users and companies tagged from their records' tags field; managed_tags removes."""

from __future__ import annotations

from typing import Any, Dict, List

from tests.conftest import USERS_PROPERTIES, record, schema, state

PROPS: Dict[str, Any] = {**USERS_PROPERTIES, "tags": {}, "labels": {}}
COMPANY_PROPS: Dict[str, Any] = {"company_id": {"type": "string"}, "name": {"type": ["null", "string"]}, "tags": {}}


def users(*records: Dict[str, Any]) -> List[Dict]:
    return [schema("users", PROPS)] + [record(r) for r in records] + [state(1)]


def summary(result) -> str:
    [line] = [line for line in result.stderr.splitlines() if line.startswith("INFO summary:")]
    return line


def tags_of(emulator, user_id: str) -> List[str]:
    [contact] = [c for c in emulator.contacts() if c["external_id"] == user_id]
    return sorted(t["name"] for t in emulator.tags() if contact["id"] in t["contact_ids"])


def company_tags(emulator, company_id: str) -> List[str]:
    [company] = [c for c in emulator.companies() if c["company_id"] == company_id]
    return sorted(t["name"] for t in emulator.tags() if company["id"] in t["company_ids"])


def tag_calls(emulator) -> int:
    return sum(n for endpoint, n in emulator.counts().items() if "tags" in endpoint and endpoint != "GET /tags")


def test_users_get_the_tags_their_records_list_as_a_list_or_comma_separated(target, emulator) -> None:
    emulator.seed_tag("Customer")
    result = target.run(users(
        {"user_id": "u1", "email": "u1@example.com", "tags": ["vip", "customer"]},
        {"user_id": "u2", "email": "u2@example.com", "tags": "beta, vip ,,"},
        {"user_id": "u3", "email": "u3@example.com"},
    ))
    assert result.returncode == 0, result
    assert result.states == [1]
    assert tags_of(emulator, "u1") == ["Customer", "vip"]  # names match without case: no second tag
    assert tags_of(emulator, "u2") == ["beta", "vip"]
    assert tags_of(emulator, "u3") == []
    assert sorted(t["name"] for t in emulator.tags()) == ["Customer", "beta", "vip"]
    # No tag becomes a custom attribute.
    assert not [a for a in emulator.data_attributes() if a["name"] == "tags"]
    assert "tags added 4" in summary(result)


def test_tagging_is_grouped_per_tag_and_a_rerun_costs_no_tagging_calls(target, emulator) -> None:
    records = [{"user_id": f"u{i}", "email": f"u{i}@example.com", "tags": ["vip"]} for i in range(120)]
    first = target.run(users(*records), config={"batch_size": 120})
    assert first.returncode == 0, first
    assert emulator.count("POST /tags") == 3  # 50 + 50 + 20 users
    assert len(next(t for t in emulator.tags() if t["name"] == "vip")["contact_ids"]) == 120
    before = emulator.counts()
    again = target.run(users(*records), config={"batch_size": 120})
    assert again.returncode == 0, again
    after = emulator.counts()
    new_calls = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert not [k for k in new_calls if "tags" in k and k != "GET /tags"], new_calls
    assert new_calls.get("GET /tags", 0) <= 1
    assert "tags added" not in summary(again)


def test_tags_are_only_added_unless_managed_tags_says_which_to_remove(target, emulator) -> None:
    user = emulator.seed_contact(external_id="u1", email="u1@example.com")
    for name in ("vip", "churn-risk", "hand-picked"):
        emulator.seed_tag(name, [user["id"]])
    record_ = {"user_id": "u1", "email": "u1@example.com", "tags": ["vip", "new"]}
    added = target.run(users(record_))
    assert added.returncode == 0, added
    assert tags_of(emulator, "u1") == ["churn-risk", "hand-picked", "new", "vip"]
    managed = target.run(users(record_), config={"managed_tags": ["churn-risk", "new", "vip"]})
    assert managed.returncode == 0, managed
    assert tags_of(emulator, "u1") == ["hand-picked", "new", "vip"]  # outside the set: never touched
    assert "tags removed 1" in summary(managed)
    everything = target.run(users({**record_, "tags": []}), config={"managed_tags": "all"})
    assert everything.returncode == 0, everything
    assert tags_of(emulator, "u1") == []
    assert "tags removed 3" in summary(everything)


def test_a_user_with_more_tags_than_the_contact_lists_is_read_in_full(target, emulator) -> None:
    user = emulator.seed_contact(external_id="u1", email="u1@example.com")
    for i in range(12):
        emulator.seed_tag(f"t{i:02}", [user["id"]])
    result = target.run(users({"user_id": "u1", "email": "u1@example.com", "tags": ["t11"]}),
                        config={"managed_tags": "all"})
    assert result.returncode == 0, result
    assert tags_of(emulator, "u1") == ["t11"]
    assert emulator.count("POST /tags") == 0  # it had t11, though the contact object does not list it


def test_the_tags_field_can_be_mapped_from_another_source_and_a_bad_value_is_rejected(target, emulator) -> None:
    result = target.run(
        users(
            {"user_id": "u1", "email": "u1@example.com", "labels": "a,b", "tags": "kept as an attribute"},
            {"user_id": "u2", "email": "u2@example.com", "labels": {"not": "names"}},
        ),
        config={"reserved_field_overrides": {"tags": "labels"}, "max_rejected_records": 1,
                "rejected_records_file": "rejects.jsonl"},
    )
    assert result.returncode == 0, result
    assert tags_of(emulator, "u1") == ["a", "b"]
    [contact] = [c for c in emulator.contacts() if c["external_id"] == "u1"]
    assert contact["custom_attributes"]["tags"] == "kept as an attribute"
    assert [(r["identifiers"]["user_id"], r["error_code"]) for r in result.rejects] == [("u2", "invalid_value")]
    assert "labels: expected a list of tag names" in result.rejects[0]["reason"]


def test_later_records_of_a_user_win_and_new_users_are_tagged_in_bulk_mode_too(target, emulator) -> None:
    messages = users(
        {"user_id": "u1", "email": "u1@example.com", "tags": ["a"]},
        {"user_id": "u1", "email": "u1@example.com", "tags": ["b"]},
        {"user_id": "u2", "email": "u2@example.com", "tags": ["a"]},
    )
    result = target.run(messages, config={"write_mode": "bulk", "managed_tags": ["a", "b"]})
    assert result.returncode == 0, result
    assert tags_of(emulator, "u1") == ["b"]
    assert tags_of(emulator, "u2") == ["a"]


def test_dry_run_counts_tags_and_writes_none(target, emulator) -> None:
    user = emulator.seed_contact(external_id="u1", email="u1@example.com")
    emulator.seed_tag("old", [user["id"]])
    result = target.run(
        users({"user_id": "u1", "email": "u1@example.com", "tags": ["new"]},
              {"user_id": "u2", "email": "u2@example.com", "tags": ["new"]}),
        config={"dry_run": True, "managed_tags": "all"},
    )
    assert result.returncode == 0, result
    assert tags_of(emulator, "u1") == ["old"]
    assert tag_calls(emulator) == 0
    assert "tags added 2" in result.stderr and "tags removed 1" in result.stderr


def test_companies_are_tagged_and_untagged_with_one_call_per_tag(target, emulator) -> None:
    def run(tags_by_company: Dict[str, Any], **config: Any):
        messages = [schema("companies", COMPANY_PROPS, key_properties=("company_id",))]
        messages += [record({"company_id": cid, "name": cid, "tags": tags}, stream="companies")
                     for cid, tags in tags_by_company.items()]
        return target.run(messages + [state(1)], config={"companies_stream": "companies", **config})

    first = run({"c1": ["enterprise", "emea"], "c2": "enterprise", "c3": None})
    assert first.returncode == 0, first
    assert (company_tags(emulator, "c1"), company_tags(emulator, "c2")) == (["emea", "enterprise"], ["enterprise"])
    assert emulator.count("POST /tags") == 2  # one per tag, whatever the number of companies
    again = run({"c1": ["enterprise"], "c2": "enterprise"}, managed_tags="all")
    assert again.returncode == 0, again
    assert company_tags(emulator, "c1") == ["enterprise"]
    assert emulator.count("POST /tags") == 3  # the untag of emea
    assert "tags removed 1" in summary(again)


def test_a_failed_tagging_rejects_the_record_and_names_the_tag(target, emulator) -> None:
    emulator.fail_next(1, status=400, match_method="POST", match_path="/tags", code="parameter_invalid", message="Invalid tag name")
    result = target.run(users({"user_id": "u1", "email": "u1@example.com", "tags": ["bad"]}),
                        config={"rejected_records_file": "rejects.jsonl"})
    assert result.returncode == 1
    assert "tagging it 'bad' failed" in result.stderr and "Invalid tag name" in result.stderr
    assert [r["error_code"] for r in result.rejects] == ["parameter_invalid"]
    assert result.states == []
