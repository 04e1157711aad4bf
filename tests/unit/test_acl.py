"""Unit tests of openmps.directory.acl: SDDL, MPS names and AD-style access evaluation."""

from __future__ import annotations

from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openmps.directory.acl import (
    AUTHENTICATED_USERS,
    CLASS_GUIDS,
    EVERYONE,
    SELF,
    SYSTEM,
    Ace,
    AceFlag,
    Dacl,
    Right,
    check_access,
    effective_aces,
    inheritance_from_name,
    inheritance_name,
    map_generic,
    parse_sddl,
    right_from_name,
    right_names,
    to_sddl,
)
from openmps.errors import InvalidArgument

ALICE = "S-1-5-21-1-2-3-1107"
ADMINS = "S-1-5-21-1-2-3-1108"
OTHER = "S-1-5-21-1-2-3-1109"
USER_GUID = CLASS_GUIDS["user"]
PROPERTY_SET = UUID("e48d0154-bcf8-11d1-8702-00c04fb96050")  # Public-Information

CI = AceFlag.CONTAINER_INHERIT
OI = AceFlag.OBJECT_INHERIT
IO = AceFlag.INHERIT_ONLY
NP = AceFlag.NO_PROPAGATE_INHERIT

USER = frozenset({"top", "person", "organizationalperson", "user"})
GROUP = frozenset({"top", "group"})
OU = frozenset({"top", "organizationalunit"})
NOTHING = Dacl()


# --- SDDL -----------------------------------------------------------------------------------------


def test_parse_example_from_the_brief() -> None:
    dacl = parse_sddl(
        "D:P(A;CI;RPLCLO;;;S-1-5-21-1-2-3-1107)(OA;CIIO;GA;;bf967aba-0de6-11d0-a285-00aa003049e2;S-1-5-21-1-2-3-1108)"
    )
    assert dacl.protected
    assert dacl.aces == (
        Ace(True, Right.DS_READ_PROP | Right.ACTRL_DS_LIST | Right.DS_LIST_OBJECT, ALICE, CI),
        Ace(True, Right.GENERIC_ALL, ADMINS, CI | IO, inherited_object_type=USER_GUID),
    )
    assert to_sddl(dacl) == (
        "D:P(A;CI;LCRPLO;;;S-1-5-21-1-2-3-1107)"
        "(OA;CIIO;GA;;bf967aba-0de6-11d0-a285-00aa003049e2;S-1-5-21-1-2-3-1108)"
    )


def test_empty_and_bare() -> None:
    assert parse_sddl("") == Dacl()
    assert parse_sddl("D:") == Dacl()
    assert parse_sddl("D:P") == Dacl(protected=True)
    assert parse_sddl("D:PAIAR") == Dacl(protected=True)
    assert parse_sddl("D:AI(A;;RC;;;WD)") == Dacl((Ace(True, Right.READ_CONTROL, EVERYONE),))
    assert to_sddl(Dacl()) == "D:"
    assert to_sddl(Dacl(protected=True)) == "D:P"


@pytest.mark.parametrize(
    ("alias", "sid"),
    [
        ("AU", AUTHENTICATED_USERS),
        ("WD", EVERYONE),
        ("PS", SELF),
        ("SY", SYSTEM),
        ("BA", "S-1-5-32-544"),
    ],
)
def test_sid_aliases_render_as_full_sids(alias: str, sid: str) -> None:
    dacl = parse_sddl(f"D:(A;;RP;;;{alias})")
    assert dacl.aces[0].trustee == sid
    assert to_sddl(dacl) == f"D:(A;;RP;;;{sid})"


def test_hex_rights() -> None:
    assert parse_sddl("D:(A;;0x10000000;;;WD)").aces[0].rights == Right.GENERIC_ALL
    assert parse_sddl("D:(A;;0X000F01FF;;;WD)").aces[0].rights == map_generic(Right.GENERIC_ALL)
    # A mask SDDL codes cannot spell stays hex and round-trips.
    odd = parse_sddl("D:(A;;0x1f01ff;;;WD)")
    assert int(odd.aces[0].rights) == 0x1F01FF
    assert to_sddl(odd) == "D:(A;;0x1f01ff;;;S-1-1-0)"
    assert parse_sddl(to_sddl(odd)) == odd


def test_canonical_rendering_orders_codes_and_lowercases_guids() -> None:
    dacl = parse_sddl(
        "D:(OD;IDIONPCIOI;GRGWGXGAWOWDRCSDCRLODTWPRPSWLCDCCC;BF967ABA-0DE6-11D0-A285-00AA003049E2;;WD)"
    )
    assert to_sddl(dacl) == (
        "D:(OD;OICINPIOID;CCDCLCSWRPWPDTLOCRSDRCWDWOGAGXGWGR;bf967aba-0de6-11d0-a285-00aa003049e2;;S-1-1-0)"
    )


def test_object_ace_without_guids_renders_as_plain() -> None:
    dacl = parse_sddl("D:(OA;;RP;;;WD)(OD;;WP;;;WD)")
    assert to_sddl(dacl) == "D:(A;;RP;;;S-1-1-0)(D;;WP;;;S-1-1-0)"


@pytest.mark.parametrize(
    "text",
    [
        "O:BAG:BAD:(A;;RP;;;WD)",
        "D:(A;;RP;;;WD)S:(AU;SA;RP;;;WD)",
        "S:(AU;SA;RP;;;WD)",
        "d:(A;;RP;;;WD)",
        " D:(A;;RP;;;WD)",
        "D:(A;;RP;;;WD) ",
        "D:X(A;;RP;;;WD)",
        "D:(A;;RP;;;WD",
        "D:(A;;RP;;WD)",
        "D:(A;;RP;;;WD;)",
        "D:(A;;XX;;;WD)",
        "D:(A;;R;;;WD)",
        "D:(A;;;;;WD)",
        "D:(A;;0x123456789;;;WD)",
        "D:(A;;0xzz;;;WD)",
        "D:(A;QQ;RP;;;WD)",
        "D:(A;C;RP;;;WD)",
        "D:(AU;;RP;;;WD)",
        "D:(XA;;RP;;;WD)",
        "D:(A;;RP;;;DA)",
        "D:(A;;RP;;;S-1-)",
        "D:(A;;RP;;;S-2-5)",
        "D:(A;;RP;;;)",
        "D:(OA;;RP;not-a-guid;;WD)",
        "D:(OA;;RP;{bf967aba-0de6-11d0-a285-00aa003049e2};;WD)",
        "D:(A;;RP;bf967aba-0de6-11d0-a285-00aa003049e2;;WD)",
        "D:(A;;RP;;;WD)junk",
        "D:(A;;RP;;;WD)((A;;RP;;;WD)",
        "D:(XA;;RP;;;WD;(Member_of {SID(BA)}))",
        "garbage",
    ],
)
def test_malformed_sddl_is_rejected_naming_the_text(text: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_sddl(text)
    assert repr(text) in caught.value.description or text in caught.value.description


_SIDS = st.one_of(
    st.sampled_from([EVERYONE, AUTHENTICATED_USERS, SELF, SYSTEM, "S-1-5-32-544", ALICE]),
    st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=6).map(
        lambda subs: "S-1-5" + "".join(f"-{s}" for s in subs)
    ),
)
_RIGHTS = st.one_of(
    st.sets(st.sampled_from(list(Right))).map(lambda rs: Right(sum(int(r) for r in rs))),
    st.integers(0, 2**32 - 1).map(Right),
)
_ACES = st.builds(
    Ace,
    allow=st.booleans(),
    rights=_RIGHTS,
    trustee=_SIDS,
    flags=st.integers(0, 0x1F).map(AceFlag),
    object_type=st.none() | st.uuids(),
    inherited_object_type=st.none() | st.uuids(),
)
_DACLS = st.builds(Dacl, aces=st.lists(_ACES, max_size=6).map(tuple), protected=st.booleans())


@given(_DACLS)
def test_sddl_round_trip(dacl: Dacl) -> None:
    text = to_sddl(dacl)
    assert parse_sddl(text) == dacl
    assert to_sddl(parse_sddl(text)) == text


# --- ACE / DACL objects ---------------------------------------------------------------------------


def test_ace_helpers_and_validation() -> None:
    assert Ace.grant("AU", Right.DS_READ_PROP) == Ace(True, Right.DS_READ_PROP, AUTHENTICATED_USERS)
    assert Ace.deny(ALICE, Right.DELETE, flags=CI).allow is False
    assert Ace(True, 0x10, ALICE).rights is Right.DS_READ_PROP  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="not-a-sid"):
        Ace(True, Right.DS_READ_PROP, "not-a-sid")
    with pytest.raises(InvalidArgument, match="DA"):
        Ace.grant("DA", Right.DS_READ_PROP)
    with pytest.raises(InvalidArgument):
        Ace(True, Right.DS_READ_PROP, ALICE, AceFlag(0x40))


def test_dacl_with_ace_is_idempotent_and_without_removes() -> None:
    a = Ace.grant(ALICE, Right.DS_READ_PROP)
    b = Ace.deny(OTHER, Right.DS_WRITE_PROP)
    dacl = Dacl(protected=True).with_ace(a).with_ace(b).with_ace(a)
    assert dacl == Dacl((a, b), protected=True)
    assert dacl.without(lambda ace: ace.trustee == ALICE) == Dacl((b,), protected=True)
    assert dacl.without(lambda ace: False) == dacl


# --- MPS names ------------------------------------------------------------------------------------


def test_right_names_for_the_seed_002_ace_sets() -> None:
    assert right_names(Right.DS_LIST_OBJECT) == ["ADS_RIGHT_DS_LIST_OBJECT"]
    assert right_names(Right.ACTRL_DS_LIST | Right.DS_READ_PROP) == [
        "ADS_RIGHT_ACTRL_DS_LIST",
        "ADS_RIGHT_DS_READ_PROP",
    ]
    assert right_names(Right.READ_CONTROL) == ["ADS_RIGHT_READ_CONTROL"]
    csr = (
        Right.READ_CONTROL
        | Right.DS_WRITE_PROP
        | Right.WRITE_DAC
        | Right.DS_SELF
        | Right.DS_CONTROL_ACCESS
        | Right.DS_CREATE_CHILD
        | Right.DS_DELETE_CHILD
        | Right.DS_DELETE_TREE
        | Right.DELETE
    )
    assert right_names(csr) == [
        "ADS_RIGHT_READ_CONTROL",
        "ADS_RIGHT_DS_WRITE_PROP",
        "ADS_RIGHT_WRITE_DAC",
        "ADS_RIGHT_DS_SELF",
        "ADS_RIGHT_DS_CONTROL_ACCESS",
        "ADS_RIGHT_DS_CREATE_CHILD",
        "ADS_RIGHT_DS_DELETE_CHILD",
        "ADS_RIGHT_DS_DELETE_TREE",
        "ADS_RIGHT_DELETE",
    ]
    assert right_names(csr & ~Right.DELETE) == right_names(csr)[:-1]
    assert right_names(Right.GENERIC_ALL) == ["ADS_RIGHT_GENERIC_ALL"]
    assert right_names(Right(0)) == []


def test_right_names_round_trip_and_unknown_names() -> None:
    for right in Right:
        (name,) = right_names(right)
        assert right_from_name(name) is right
    assert right_from_name("ADS_RIGHT_DS_LIST_OBJECT") is Right.DS_LIST_OBJECT
    assert right_names(Right(0x100010)) == ["ADS_RIGHT_DS_READ_PROP", "0x00100000"]
    assert right_from_name("0x00100000") == Right(0x100000)
    with pytest.raises(InvalidArgument, match="ADS_RIGHT_FLY"):
        right_from_name("ADS_RIGHT_FLY")
    with pytest.raises(InvalidArgument, match="GENERIC_ALL"):
        right_from_name("GENERIC_ALL")


@pytest.mark.parametrize(
    ("flags", "name"),
    [
        (AceFlag(0), "NO_INHERITANCE"),
        (CI | OI, "SUB_CONTAINERS_AND_OBJECTS_INHERIT"),
        (CI, "SUB_CONTAINERS_ONLY_INHERIT"),
        (OI, "SUB_OBJECTS_ONLY_INHERIT"),
        (OI | CI | IO, "11"),
        (CI | NP, "6"),
    ],
)
def test_inheritance_names(flags: AceFlag, name: str) -> None:
    assert inheritance_name(flags) == name
    assert inheritance_name(flags | AceFlag.INHERITED) == name
    assert inheritance_from_name(name) == flags


def test_inheritance_from_name_rejects_unknown() -> None:
    assert inheritance_from_name("3") == CI | OI
    for bad in ("EVERYWHERE", "16", "-1", "0x3", "", "1.0"):
        with pytest.raises(InvalidArgument) as caught:
            inheritance_from_name(bad)
        assert repr(bad) in caught.value.description


# --- access checks --------------------------------------------------------------------------------


def _dacl(*aces: Ace, protected: bool = False) -> Dacl:
    return Dacl(aces, protected)


def test_explicit_allow() -> None:
    chain = [(_dacl(Ace.grant(ALICE, Right.DS_READ_PROP | Right.DS_WRITE_PROP)), USER)]
    token = frozenset({ALICE, EVERYONE})
    assert check_access(token=token, chain=chain, desired=Right.DS_READ_PROP)
    assert check_access(token=token, chain=chain, desired=Right.DS_READ_PROP | Right.DS_WRITE_PROP)
    assert not check_access(token=token, chain=chain, desired=Right.DELETE)


def test_rights_may_be_collected_from_several_aces() -> None:
    chain = [(_dacl(Ace.grant(ALICE, Right.DS_READ_PROP), Ace.grant(EVERYONE, Right.DS_WRITE_PROP)), USER)]
    token = frozenset({ALICE, EVERYONE})
    assert check_access(token=token, chain=chain, desired=Right.DS_READ_PROP | Right.DS_WRITE_PROP)


def test_explicit_deny_beats_allow_whatever_the_stored_order() -> None:
    chain = [(_dacl(Ace.grant(ALICE, Right.DS_WRITE_PROP), Ace.deny(ADMINS, Right.DS_WRITE_PROP)), USER)]
    assert check_access(token=frozenset({ALICE}), chain=chain, desired=Right.DS_WRITE_PROP)
    assert not check_access(token=frozenset({ALICE, ADMINS}), chain=chain, desired=Right.DS_WRITE_PROP)


def test_deny_only_for_the_asked_bits() -> None:
    chain = [(_dacl(Ace.grant(ALICE, Right.GENERIC_ALL), Ace.deny(ALICE, Right.DELETE)), USER)]
    token = frozenset({ALICE})
    assert check_access(token=token, chain=chain, desired=Right.DS_READ_PROP | Right.DS_WRITE_PROP)
    assert not check_access(token=token, chain=chain, desired=Right.DELETE)
    assert not check_access(token=token, chain=chain, desired=Right.DELETE | Right.DS_READ_PROP)


def test_explicit_allow_beats_inherited_deny() -> None:
    parent = _dacl(Ace.deny(ALICE, Right.DS_WRITE_PROP, flags=CI))
    chain = [(_dacl(Ace.grant(ALICE, Right.DS_WRITE_PROP)), USER), (parent, OU)]
    assert check_access(token=frozenset({ALICE}), chain=chain, desired=Right.DS_WRITE_PROP)


def test_nearer_inherited_allow_beats_farther_deny() -> None:
    grandparent = _dacl(Ace.deny(ALICE, Right.DS_READ_PROP, flags=CI))
    parent = _dacl(Ace.grant(ALICE, Right.DS_READ_PROP, flags=CI))
    chain = [(NOTHING, USER), (parent, OU), (grandparent, OU)]
    assert check_access(token=frozenset({ALICE}), chain=chain, desired=Right.DS_READ_PROP)
    levels = [level for _, level in effective_aces(chain)]
    assert levels == [1, 2]


def test_inherited_container_inherit_from_grandparent() -> None:
    grandparent = _dacl(Ace.grant(ADMINS, Right.DS_READ_PROP, flags=CI))
    chain = [(NOTHING, USER), (NOTHING, OU), (grandparent, OU)]
    assert check_access(token=frozenset({ADMINS}), chain=chain, desired=Right.DS_READ_PROP)
    # An ACE that carries neither CI nor OI stays on its own entry.
    chain = [(NOTHING, USER), (_dacl(Ace.grant(ADMINS, Right.DS_READ_PROP)), OU)]
    assert not check_access(token=frozenset({ADMINS}), chain=chain, desired=Right.DS_READ_PROP)


def test_object_inherit_alone_reaches_descendants() -> None:
    parent = _dacl(Ace.grant(ADMINS, Right.DS_READ_PROP, flags=OI))
    chain = [(NOTHING, OU), (NOTHING, OU), (parent, OU)]
    assert check_access(token=frozenset({ADMINS}), chain=chain, desired=Right.DS_READ_PROP)


def test_no_propagate_stops_at_grandchildren() -> None:
    top = _dacl(Ace.grant(ADMINS, Right.DS_READ_PROP, flags=CI | NP))
    token = frozenset({ADMINS})
    assert check_access(token=token, chain=[(NOTHING, OU), (top, OU)], desired=Right.DS_READ_PROP)
    assert not check_access(
        token=token, chain=[(NOTHING, USER), (NOTHING, OU), (top, OU)], desired=Right.DS_READ_PROP
    )


def test_inherit_only_applies_to_children_not_the_object() -> None:
    ou = _dacl(Ace.grant(ADMINS, Right.DS_WRITE_PROP, flags=CI | IO))
    token = frozenset({ADMINS})
    assert not check_access(token=token, chain=[(ou, OU)], desired=Right.DS_WRITE_PROP)
    assert check_access(token=token, chain=[(NOTHING, USER), (ou, OU)], desired=Right.DS_WRITE_PROP)


def test_protected_dacl_blocks_inheritance() -> None:
    top = _dacl(Ace.grant(ADMINS, Right.DS_READ_PROP, flags=CI))
    token = frozenset({ADMINS})
    protected_target = [(Dacl(protected=True), USER), (top, OU)]
    assert not check_access(token=token, chain=protected_target, desired=Right.DS_READ_PROP)
    # A protected ancestor still passes its own inheritable ACEs down, but nothing from above it.
    middle = _dacl(Ace.grant(ALICE, Right.DS_READ_PROP, flags=CI), protected=True)
    chain = [(NOTHING, USER), (middle, OU), (top, OU)]
    assert check_access(token=frozenset({ALICE}), chain=chain, desired=Right.DS_READ_PROP)
    assert not check_access(token=token, chain=chain, desired=Right.DS_READ_PROP)


def test_inherited_object_type_applies_to_users_only() -> None:
    # The seed-002 "11" ACE: GENERIC_ALL, OI|CI|IO, inheritedObjectType user.
    org = _dacl(Ace.grant(ADMINS, Right.GENERIC_ALL, flags=OI | CI | IO, inherited_object_type=USER_GUID))
    token = frozenset({ADMINS})
    assert check_access(token=token, chain=[(NOTHING, USER), (org, OU)], desired=Right.DELETE)
    assert check_access(token=token, chain=[(NOTHING, USER), (NOTHING, OU), (org, OU)], desired=Right.DELETE)
    assert not check_access(token=token, chain=[(NOTHING, GROUP), (org, OU)], desired=Right.DELETE)
    assert not check_access(token=token, chain=[(NOTHING, OU), (org, OU)], desired=Right.DELETE)
    assert not check_access(token=token, chain=[(org, OU)], desired=Right.DELETE)


def test_object_type_aces_are_ignored() -> None:
    chain = [
        (
            _dacl(
                Ace.deny(ALICE, Right.DS_READ_PROP, object_type=PROPERTY_SET),
                Ace.grant(ALICE, Right.DS_READ_PROP),
                Ace.grant(ALICE, Right.DS_WRITE_PROP, object_type=PROPERTY_SET),
            ),
            USER,
        )
    ]
    token = frozenset({ALICE})
    assert check_access(token=token, chain=chain, desired=Right.DS_READ_PROP)
    assert not check_access(token=token, chain=chain, desired=Right.DS_WRITE_PROP)
    assert len(effective_aces(chain)) == 3


def test_generic_all_grants_everything() -> None:
    chain = [(_dacl(Ace.grant(ADMINS, Right.GENERIC_ALL)), USER)]
    token = frozenset({ADMINS})
    for right in Right:
        assert check_access(token=token, chain=chain, desired=right), right
    everything = Right(sum(int(r) for r in Right))
    assert check_access(token=token, chain=chain, desired=everything)


def test_desired_generic_read_is_mapped() -> None:
    read = Right.READ_CONTROL | Right.ACTRL_DS_LIST | Right.DS_READ_PROP | Right.DS_LIST_OBJECT
    token = frozenset({ALICE})
    chain = [(_dacl(Ace.grant(ALICE, read)), USER)]
    assert check_access(token=token, chain=chain, desired=Right.GENERIC_READ)
    partial = [(_dacl(Ace.grant(ALICE, read & ~Right.DS_LIST_OBJECT)), USER)]
    assert not check_access(token=token, chain=partial, desired=Right.GENERIC_READ)
    generic = [(_dacl(Ace.grant(ALICE, Right.GENERIC_READ)), USER)]
    assert check_access(token=token, chain=generic, desired=Right.DS_LIST_OBJECT)
    assert not check_access(token=token, chain=generic, desired=Right.DS_WRITE_PROP)


def test_generic_mapping() -> None:
    assert map_generic(Right.GENERIC_WRITE) == Right.READ_CONTROL | Right.DS_SELF | Right.DS_WRITE_PROP
    assert map_generic(Right.GENERIC_EXECUTE) == Right.READ_CONTROL | Right.ACTRL_DS_LIST
    assert int(map_generic(Right.GENERIC_ALL)) == 0xF01FF
    assert map_generic(Right.DELETE) == Right.DELETE


def test_trustee_not_in_token_is_denied() -> None:
    chain = [(_dacl(Ace.grant(ALICE, Right.GENERIC_ALL), Ace.deny(OTHER, Right.GENERIC_ALL)), USER)]
    assert not check_access(token=frozenset({ADMINS, EVERYONE}), chain=chain, desired=Right.DS_READ_PROP)
    assert check_access(token=frozenset({ALICE}), chain=chain, desired=Right.DS_READ_PROP)


def test_empty_chain_and_empty_desire_are_denied() -> None:
    assert not check_access(token=frozenset({ALICE}), chain=[], desired=Right.DS_READ_PROP)
    assert effective_aces([]) == []
    chain = [(_dacl(Ace.grant(ALICE, Right.GENERIC_ALL)), USER)]
    assert not check_access(token=frozenset({ALICE}), chain=chain, desired=Right(0))


def test_effective_aces_canonical_order() -> None:
    own_allow = Ace.grant(ALICE, Right.DS_READ_PROP)
    own_deny = Ace.deny(ALICE, Right.DELETE)
    own_io = Ace.grant(ALICE, Right.WRITE_DAC, flags=CI | IO)
    p_allow = Ace.grant(ADMINS, Right.DS_READ_PROP, flags=CI)
    p_deny = Ace.deny(ADMINS, Right.DELETE, flags=CI)
    g_allow = Ace.grant(OTHER, Right.DS_READ_PROP, flags=OI)
    chain = [
        (_dacl(own_allow, own_io, own_deny), USER),
        (_dacl(p_allow, p_deny), OU),
        (_dacl(g_allow), frozenset({"domaindns"})),
    ]
    assert effective_aces(chain) == [(own_deny, 0), (own_allow, 0), (p_deny, 1), (p_allow, 1), (g_allow, 2)]
