"""The contacts a run remembers stay within a memory budget, however wide they are."""

from __future__ import annotations

from target_intercom.units.contacts.identity import RecentContacts, footprint
from target_intercom.intercom import IntercomContact
from target_intercom.units.contacts.mapping import ContactPayload


def contact(i: int, attributes: int) -> IntercomContact:
    return IntercomContact(
        id="%024x" % i, role="user", external_id=f"u{i}", email=f"u{i}@example.com",
        core={"name": f"User {i}"}, custom={f"note{k}": "x" * 200 for k in range(attributes)},
    )


def by_user_id(i: int) -> ContactPayload:
    return ContactPayload(line=1, record={}, intercom_id=None, external_id=f"u{i}", email=None,
                          core={"external_id": f"u{i}"}, custom={}, custom_types={})


def test_wide_contacts_are_forgotten_oldest_first_within_the_budget() -> None:
    wide = contact(99, attributes=50)
    recent = RecentContacts(budget_bytes=10 * footprint(wide))
    for i in range(100):
        recent.remember(contact(i, attributes=50))
    assert len(recent) == 10
    assert [i for i in range(100) if recent.knows(by_user_id(i))] == list(range(90, 100))


def test_remembering_a_contact_again_does_not_count_it_twice() -> None:
    recent = RecentContacts(budget_bytes=3 * footprint(contact(0, attributes=5)))
    for _ in range(10):
        recent.remember(contact(1, attributes=5))
    recent.remember(contact(2, attributes=5))
    assert len(recent) == 2
    assert recent.knows(by_user_id(1)) and recent.knows(by_user_id(2))


def test_narrow_contacts_are_remembered_by_the_thousand() -> None:
    recent = RecentContacts()
    for i in range(15_000):
        recent.remember(contact(i, attributes=3))
    assert len(recent) == 15_000
