"""sAMAccountName generation exactly as seed 003 ("sAMAccountName Behavior") describes it:

1. remove ``"/\\[]:|<>+=;?,*`` (and replace ``@`` with ``_``), 2. trim to 20 characters,
3. a trailing ``.`` becomes ``_``, 4. try that name, 5. on a collision try 3 names of the seed's first
17 characters + 3 random digits, then 2 of its first 15 characters + 5 random digits.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

import pytest
from lxml import etree
from sqlalchemy import select

from openmps.app import Deployment
from openmps.db.schema import audit_log, entry_values, metadata
from openmps.directory import naming
from openmps.directory.naming import sam_candidates, sam_seed
from openmps.errors import ConstraintViolation
from openmps.types import DN
from support import USER_PASSWORD, he, make_alpineskihouse, ok, org_path

ILLEGAL = '"/\\[]:|<>+=;?,*'
ORG = org_path("WH", "alpineskihouse")


# --- sam_seed ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("char", list(ILLEGAL))
def test_each_illegal_character_is_removed(char: str) -> None:
    assert sam_seed(f"ab{char}cd") == "abcd"


def test_all_illegal_characters_at_once() -> None:
    assert sam_seed(f"x{ILLEGAL}y") == "xy"


def test_at_becomes_underscore() -> None:
    assert sam_seed("admin@alpineskihouse.com") == "admin_alpineskihouse"
    assert sam_seed("a@b@c") == "a_b_c"


def test_other_characters_are_kept() -> None:
    assert sam_seed("J.O'Neil-x_y~!#$%") == "J.O'Neil-x_y~!#$%"
    assert sam_seed("Zoë Bär") == "Zoë Bär"


def test_trimmed_to_20_after_removal() -> None:
    assert sam_seed("a" * 25) == "a" * 20
    # removed characters do not count towards the 20
    assert sam_seed("/" * 10 + "b" * 25) == "b" * 20
    assert sam_seed("abcdefghij" + "*" * 30 + "klmnopqrstuvwxyz") == "abcdefghijklmnopqrst"
    assert sam_seed("short") == "short"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bob.", "bob_"),
        ("bob..", "bob._"),
        ("abcdefghijklmnopqrs.tuvwxyz", "abcdefghijklmnopqrs_"),  # the 20th character is the dot
        ("abcdefghijklmnopqrs*.", "abcdefghijklmnopqrs_"),
        ("a.b", "a.b"),
        (".lead", ".lead"),
    ],
)
def test_trailing_dot_becomes_underscore(name: str, expected: str) -> None:
    assert sam_seed(name) == expected


def test_seed_is_idempotent_on_legal_names() -> None:
    for name in ("admin_alpineskihouse", "bob_", "x" * 20):
        assert sam_seed(name) == name


# --- sam_candidates ----------------------------------------------------------------------------------


def sequence(*draws: str) -> Callable[[int], str]:
    it = iter(draws)
    return lambda n: next(it)


def test_candidates_are_seed_then_3_of_17_plus_3_then_2_of_15_plus_5() -> None:
    upn = "abcdefghijklmnopqrstuvwxyz@alpineskihouse.com"
    seed = "abcdefghijklmnopqrst"
    assert sam_seed(upn) == seed
    got = list(sam_candidates(upn, digits=sequence("111", "222", "333", "44444", "55555")))
    assert got == [
        seed,
        seed[:17] + "111",
        seed[:17] + "222",
        seed[:17] + "333",
        seed[:15] + "44444",
        seed[:15] + "55555",
    ]
    assert all(len(c) <= 20 for c in got)


def test_candidates_ask_for_the_documented_digit_counts() -> None:
    asked: list[int] = []

    def digits(n: int) -> str:
        asked.append(n)
        return "9" * n

    list(sam_candidates("someone@example.com", digits=digits))
    assert asked == [3, 3, 3, 5, 5]


def test_candidates_of_a_short_seed_append_to_the_whole_seed() -> None:
    got = list(sam_candidates("bob@x.com", digits=lambda n: "0" * n))
    assert got == [
        "bob_x.com",
        "bob_x.com000",
        "bob_x.com000",
        "bob_x.com000",
        "bob_x.com00000",
        "bob_x.com00000",
    ]


def test_default_digits_are_random_decimal() -> None:
    seed = "abcdefghijklmnopqrst"
    for _ in range(20):
        got = list(sam_candidates(seed))
        assert len(got) == 6 and got[0] == seed
        assert all(re.fullmatch(r"abcdefghijklmnopq[0-9]{3}", c) for c in got[1:4]), got
        assert all(re.fullmatch(r"abcdefghijklmno[0-9]{5}", c) for c in got[4:6]), got


def test_truncation_keeps_a_dot_that_digits_follow() -> None:
    """Seed 003 replaces a dot only when it is the last character of the trial name; a dot at the
    17th or 15th position is followed by the digits, so it stays."""
    name = "abcdefghijklmn.p.rstuvwxyz"  # the 15th and 17th characters are dots
    seed = sam_seed(name)
    assert seed == "abcdefghijklmn.p.rst"
    got = list(sam_candidates(name, digits=sequence("111", "222", "333", "44444", "55555")))
    assert got[1] == "abcdefghijklmn.p.111"
    assert got[4] == "abcdefghijklmn.44444"


# --- through the engine ------------------------------------------------------------------------------


def snapshot(d: Deployment) -> dict[str, list[tuple[object, ...]]]:
    with d.sql.connect() as conn:
        return {
            t.name: sorted(tuple(r) for r in conn.execute(select(t)))
            for t in metadata.sorted_tables
            if t is not audit_log
        }


@pytest.fixture
def org(deployment: Deployment) -> Deployment:
    make_alpineskihouse(deployment)
    return deployment


def create(d: Deployment, upn: str, sam: str | None = None) -> etree._Element:
    return d.submit(
        he(
            "CreateBusinessUser",
            container=ORG,
            userPrincipalName=upn,
            isAdmin=False,
            newPassword=USER_PASSWORD,
            sAMAccountName=sam,
        )
    ).response


def sam_of(d: Deployment, upn: str) -> str:
    path = DN.from_path(ORG).child("CN", upn).ldap_path
    response = ok(d.submit(he("GetBusinessUser", path=path)))
    values = [v.text for p in response.iter("property") if p.get("name") == "sAMAccountName" for v in p]
    assert len(values) == 1
    return values[0]


def test_colliding_upns_get_the_documented_pattern(org: Deployment) -> None:
    upns = [f"abcdefghijklmnopqrstuv.{n}@alpineskihouse.com" for n in ("one", "two", "three", "four", "five")]
    for upn in upns:
        assert create(org, upn).find("errorContext") is None
    sams = [sam_of(org, upn) for upn in upns]
    assert sams[0] == "abcdefghijklmnopqrst"
    for sam in sams[1:]:
        assert re.fullmatch(r"abcdefghijklmnopq[0-9]{3}|abcdefghijklmno[0-9]{5}", sam), sam
    assert len(set(s.casefold() for s in sams)) == len(sams)


def test_generated_names_follow_the_seed_rules(org: Deployment) -> None:
    cases = {
        "admin@alpineskihouse.com": "admin_alpineskihouse",
        "abcdefghijklmnopqrs.x@alpineskihouse.com": "abcdefghijklmnopqrs_",
        "j.o'neil@alpineskihouse.com": "j.o'neil_alpineskiho",
        "*x*@alpineskihouse.com": "x_alpineskihouse.com",
    }
    for upn in cases:
        assert create(org, upn).find("errorContext") is None
    assert {upn: sam_of(org, upn) for upn in cases} == cases


def test_collision_is_case_insensitive(org: Deployment) -> None:
    assert create(org, "first@alpineskihouse.com", sam="ABCDEFGHIJKLMNOPQRST").find("errorContext") is None
    assert create(org, "abcdefghijklmnopqrstuv@alpineskihouse.com").find("errorContext") is None
    sam = sam_of(org, "abcdefghijklmnopqrstuv@alpineskihouse.com")
    assert re.fullmatch(r"abcdefghijklmnopq[0-9]{3}", sam), sam


class FixedSecrets:
    """Stands in for the ``secrets`` module inside openmps.directory.naming: digits in a known order."""

    def __init__(self, digits: str) -> None:
        self._digits = itertools.cycle(digits)

    def choice(self, sequence: str) -> str:
        digit = next(self._digits)
        assert digit in sequence
        return digit


UPN = "abcdefghijklmnopqrstuvwxyz@alpineskihouse.com"
SEED = "abcdefghijklmnopqrst"
# what FixedSecrets("1234567890") draws: 123, 456, 789, then 01234, 56789
CANDIDATES = [
    SEED,
    SEED[:17] + "123",
    SEED[:17] + "456",
    SEED[:17] + "789",
    SEED[:15] + "01234",
    SEED[:15] + "56789",
]


def test_fixed_digits_give_the_expected_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(naming, "secrets", FixedSecrets("1234567890"))
    assert list(sam_candidates(UPN)) == CANDIDATES


def test_last_candidate_is_used_when_the_other_five_are_taken(
    org: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index, sam in enumerate(CANDIDATES[:5]):
        assert create(org, f"pre{index}@alpineskihouse.com", sam=sam).find("errorContext") is None
    monkeypatch.setattr(naming, "secrets", FixedSecrets("1234567890"))
    assert create(org, UPN).find("errorContext") is None
    assert sam_of(org, UPN) == CANDIDATES[5]


def test_all_six_candidates_taken_is_a_constraint_violation(
    org: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index, sam in enumerate(CANDIDATES):
        assert create(org, f"pre{index}@alpineskihouse.com", sam=sam).find("errorContext") is None
    monkeypatch.setattr(naming, "secrets", FixedSecrets("1234567890"))
    before = snapshot(org)
    response = create(org, UPN)
    error = response.find("errorContext")
    assert error is not None and error.get("code") == "0x8007202F", etree.tostring(response)
    description = error.get("description")
    assert "sAMAccountName" in description and UPN in description
    for candidate in CANDIDATES:
        assert candidate in description
    assert snapshot(org) == before


def test_add_account_retries_only_a_taken_name(org: Deployment) -> None:
    """The add is the test of a candidate; another unique value taken is that error, at once."""
    base = DN.from_path(ORG)
    group = {"objectClass": ["top", "group"], "proxyAddresses": ["SMTP:team@alpineskihouse.com"]}
    with org.transaction() as providers:
        directory = providers.directory
        first = directory.add_account(base.child("CN", "team"), {**group, "cn": ["team"]}, "team")
        second = directory.add_account(
            base.child("CN", "team2"), {"objectClass": ["top", "group"], "cn": ["team2"]}, "team"
        )
        names = [directory.get(e.dn).first("sAMAccountName") for e in (first, second)]
        with pytest.raises(ConstraintViolation) as exc_info:
            directory.add_account(base.child("CN", "team3"), {**group, "cn": ["team3"]}, "team3")
        assert exc_info.value.fields["attr"] == "proxyAddresses"
        assert not directory.exists(base.child("CN", "team3"))
    assert names[0] == "team" and re.fullmatch(r"team[0-9]{3}", names[1] or ""), names


# --- reserved names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["krbtgt", "KRBTGT", "ｋｒｂｔｇｔ", "Administrator", "Domain Admins", "domain users", "Schema Admins",
     "Enterprise Admins", "Guest", "Admins@contoso", "CSRAdmins@x", "AllUsers@Any Org", "allcustomers@x"],
)  # fmt: skip
def test_reserved_names(name: str) -> None:
    assert naming.is_reserved(name)


@pytest.mark.parametrize("name", ["admin", "Admins", "Domain Admins 2", "krbtgt2", "Sales@contoso", "bob"])
def test_ordinary_names(name: str) -> None:
    assert not naming.is_reserved(name)


def test_a_users_cn_may_have_a_role_groups_shape() -> None:
    assert not naming.is_reserved("admins@contoso.com", role_shape=False)  # a user's cn is its UPN
    assert naming.is_reserved("Administrator", role_shape=False)


def test_every_role_group_the_builder_names_is_reserved(deployment: Deployment) -> None:
    """The role groups of delegation/layout.py keep the shape naming.ROLE_GROUP_ROLES knows."""
    with deployment.sql.connect() as conn:
        groups = [
            r.value
            for r in conn.execute(select(entry_values.c.value).where(entry_values.c.name == "cn"))
            if "@" in r.value
        ]
    assert groups and all(naming.is_reserved(g) for g in groups), groups
