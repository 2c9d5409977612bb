"""Remove personal fields from stored JSON (pure functions, no database)."""

from __future__ import annotations

from typing import Any

# Keys whose values describe a person: contact details, names, addresses, what they
# wrote, where they connected from. Matched case-insensitively, at any depth.
PERSONAL_KEYS = frozenset(
    {
        "email",
        "contact_email",
        "phone",
        "first_name",
        "last_name",
        "full_name",
        "birthday",
        "birth_date",
        "address",
        "address1",
        "address2",
        "city",
        "zip",
        "postcode",
        "postal_code",
        "province",
        "province_code",
        "latitude",
        "longitude",
        "company",
        "note",
        "comment",
        "message",
        "text",
        "ip",
        "browser_ip",
        "user_agent",
    }
)


def personal_scrub(value: Any, keys: frozenset[str] = PERSONAL_KEYS) -> tuple[Any, int]:
    """``value`` with every personal key's value set to None, and how many were set.

    The structure (keys, list lengths, every other value) is kept, so whatever reads the
    JSON later still finds what it expects. Iterative: no recursion limit on deep input.
    """
    root: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    cleared = 0
    while stack:
        parent, slot = stack.pop()
        item = parent[slot]
        if isinstance(item, dict):
            copy = dict(item)
            parent[slot] = copy
            for key in copy:
                if isinstance(key, str) and key.lower() in keys:
                    if copy[key] not in (None, "", [], {}):
                        cleared += 1
                    copy[key] = None
                else:
                    stack.append((copy, key))
        elif isinstance(item, list):
            copy_list = list(item)
            parent[slot] = copy_list
            stack.extend((copy_list, index) for index in range(len(copy_list)))
    return root[0], cleared
