"""Editing what sync flows (OpenMPS extensions): Hosted Exchange's ModifyContact and
ModifyDistributionList, and a mailbox's secondary addresses through ModifyUser's proxyAddresses.

Every refusal names what was wrong and changes nothing (the whole store is compared); another
organization's objects answer as missing ones.
"""

from __future__ import annotations

import pytest
from test_managed_ad_editing import (
    ALPINE,
    CONSTRAINT,
    INVALID,
    NOT_FOUND,
    attrs,
    create,
    mad,
    props,
    user_path,
)

from openmps.app import Deployment
from openmps.types import DN
from support import RawXml, he, make_alpineskihouse, make_contoso, ok, org_path, refused

CONTOSO = org_path("WH", "contoso")
OPERATION = "0x80131509"
EXISTS = "0x80071392"


def at(org: str, cn: str) -> str:
    return DN.from_path(org).child("CN", cn).ldap_path


PARTNER, SALES = at(ALPINE, "Partner"), at(ALPINE, "Sales")


def values(*addresses: str) -> RawXml:
    return RawXml("".join(f"<value>{a}</value>" for a in addresses))


def entry_of(d: Deployment, path: str) -> dict[str, list[str]]:
    with d.transaction() as providers:
        entry = providers.directory.get(DN.from_path(path))
        return {
            k: list(entry.get(k)) for k in ("displayName", "description", "targetAddress", "proxyAddresses")
        }


def changed(response: object, element: str) -> list[str]:
    return sorted(a.text or "" for a in response.iterfind(f"data/{element}/changed/attribute"))  # type: ignore[attr-defined]


@pytest.fixture
def d(deployment: Deployment) -> Deployment:
    make_alpineskihouse(deployment, exchange=True)
    ok(deployment.submit(he("CreateSMTPDomain", path=ALPINE, SMTPDomain="ski.example")))
    ok(deployment.submit(he("CreateContact", container=ALPINE, name="Partner", targetAddress="p@x.example")))
    ok(deployment.submit(he("CreateDistributionList", container=ALPINE, name="Sales", description="old")))
    return deployment


def test_modify_contact_changes_names_target_and_addresses_and_a_repeat_writes_nothing(d: Deployment) -> None:
    document = he(
        "ModifyContact",
        path=PARTNER,
        displayName="Our Partner",
        targetAddress="partner@x.example",
        proxyAddresses=values("partner@ski.example"),
        properties=props(company="X Corp"),
    )
    response = ok(d.submit(document))
    assert changed(response, "recipient") == ["company", "displayName", "proxyAddresses", "targetAddress"]
    got = entry_of(d, PARTNER)
    assert got["displayName"] == ["Our Partner"] and got["targetAddress"] == ["SMTP:partner@x.example"]
    assert sorted(got["proxyAddresses"]) == ["SMTP:p@alpineskihouse.com", "smtp:partner@ski.example"]
    assert changed(ok(d.submit(document)), "recipient") == []
    ok(d.submit(he("ModifyContact", path=PARTNER, proxyAddresses=RawXml(""))))  # none: the primary stays
    assert entry_of(d, PARTNER)["proxyAddresses"] == ["SMTP:p@alpineskihouse.com"]


def test_a_contacts_description_is_given_at_creation_and_changed_or_removed_after(d: Deployment) -> None:
    made = he(
        "CreateContact", container=ALPINE, name="Guide", targetAddress="g@x.example", description="A guide"
    )
    ok(d.submit(made))
    guide = at(ALPINE, "Guide")
    assert entry_of(d, guide)["description"] == ["A guide"]
    response = ok(d.submit(he("ModifyContact", path=guide, description="Our mountain guide")))
    assert changed(response, "recipient") == ["description"]
    assert entry_of(d, guide)["description"] == ["Our mountain guide"]
    ok(d.submit(he("ModifyContact", path=guide, properties=props(description=None))))
    assert entry_of(d, guide)["description"] == []


def test_modify_distribution_list_changes_names_and_addresses(d: Deployment) -> None:
    response = ok(
        d.submit(
            he(
                "ModifyDistributionList",
                path=SALES,
                displayName="Sales team",
                description="new",
                proxyAddresses=values("sales@ski.example"),
            )
        )
    )
    assert changed(response, "recipient") == ["description", "displayName", "proxyAddresses"]
    got = entry_of(d, SALES)
    assert got["displayName"] == ["Sales team"] and got["description"] == ["new"]
    assert sorted(got["proxyAddresses"]) == ["SMTP:Sales@alpineskihouse.com", "smtp:sales@ski.example"]
    ok(d.submit(he("ModifyDistributionList", path=SALES, properties=props(description=None))))
    assert entry_of(d, SALES)["description"] == []


def test_a_list_or_contact_renamed_moves_with_its_memberships_and_a_repeat_writes_nothing(
    d: Deployment,
) -> None:
    ok(d.submit(he("AddDistributionListMember", path=SALES, member=PARTNER)))
    renamed = ok(d.submit(he("ModifyContact", path=PARTNER, name="Our Partner")))
    partner = at(ALPINE, "Our Partner")
    assert renamed.find("data/recipient").get("path") == partner
    team = he("ModifyDistributionList", path=SALES, name="Sales Team")
    assert changed(ok(d.submit(team)), "recipient") == ["cn"]
    with d.transaction() as providers:
        sales = providers.directory.get(DN.from_path(at(ALPINE, "Sales Team")))
        assert sales.first("cn") == "Sales Team" and providers.directory.find(DN.from_path(SALES)) is None
        assert [DN.parse(m) for m in sales.get("member")] == [DN.from_path(partner)]
    again = he("ModifyDistributionList", path=at(ALPINE, "Sales Team"), name="Sales Team")
    assert changed(ok(d.submit(again)), "recipient") == []


def test_modify_user_replaces_a_mailboxs_secondary_addresses(d: Deployment) -> None:
    create(d, "bob", planName="BaseMail", proxyAddresses=values("robert@ski.example"))
    ok(d.submit(mad("ModifyUser", path=user_path("bob"), proxyAddresses=values("bob@ski.example"))))
    assert sorted(attrs(d, user_path("bob"))["proxyAddresses"]) == [
        "SMTP:bob@alpineskihouse.com",
        "smtp:bob@ski.example",
    ]


@pytest.mark.parametrize(
    ("procedure", "path", "arguments", "code", "fragments"),
    [
        ("ModifyContact", PARTNER, {}, INVALID, ("at least one attribute",)),
        ("ModifyContact", PARTNER, {"targetAddress": "not an address"}, INVALID, ("targetAddress",)),
        (
            "ModifyContact",
            PARTNER,
            {"proxyAddresses": values("p@contoso.example")},
            INVALID,
            ("contoso.example",),
        ),
        ("ModifyContact", PARTNER, {"displayName": "x" * 65}, INVALID, ("longer than 64",)),
        (
            "ModifyContact",
            PARTNER,
            {"description": "a", "properties": props(description="b")},
            INVALID,
            ("'description' is given twice",),
        ),
        ("ModifyContact", PARTNER, {"displayName": " padded"}, INVALID, ("displayName",)),
        (
            "ModifyContact",
            PARTNER,
            {"properties": props(displayName=None)},
            INVALID,
            ("keeps a display name",),
        ),
        ("ModifyContact", PARTNER, {"properties": props(mail="a@b.example")}, INVALID, ("'mail'",)),
        (
            "ModifyContact",
            PARTNER,
            {"properties": props(proxyAddresses="smtp:a@b.c")},
            INVALID,
            ("proxyAddresses",),
        ),
        ("ModifyContact", SALES, {"displayName": "X"}, INVALID, ("Sales",)),
        ("ModifyDistributionList", SALES, {"displayName": "A\u202e"}, INVALID, ("displayName",)),
        (
            "ModifyDistributionList",
            SALES,
            {"description": "A", "properties": props(description="B")},
            INVALID,
            ("given twice",),
        ),
        ("ModifyDistributionList", SALES, {"properties": props(groupType="2")}, INVALID, ("groupType",)),
        ("ModifyDistributionList", SALES, {"properties": props(member="CN=x")}, INVALID, ("member",)),
        ("ModifyDistributionList", PARTNER, {"displayName": "X"}, INVALID, ("Partner",)),
        (
            "ModifyDistributionList",
            SALES,
            {"name": "Partner"},
            EXISTS,
            ("'name'", "Partner", "already exists"),
        ),
        ("ModifyContact", PARTNER, {"name": "Sales"}, EXISTS, ("'name'", "Sales", "already exists")),
        ("ModifyDistributionList", SALES, {"name": " padded"}, INVALID, ("name",)),
        ("ModifyDistributionList", SALES, {"name": "x" * 65}, INVALID, ("'name'", "at most 64")),
        ("ModifyContact", PARTNER, {"name": "a\tb"}, INVALID, ("'name'", "control character")),
        ("ModifyDistributionList", at(ALPINE, "nobody"), {"displayName": "X"}, NOT_FOUND, ("nobody",)),
    ],
)
def test_bad_input_is_refused_by_name_and_changes_nothing(
    d: Deployment,
    procedure: str,
    path: str,
    arguments: dict[str, object],
    code: str,
    fragments: tuple[str, ...],
) -> None:
    refused(d, he(procedure, path=path, **arguments), code, *fragments)


def test_an_address_another_object_holds_is_refused_naming_it_with_nothing_written(d: Deployment) -> None:
    create(d, "eve", planName="BaseMail", proxyAddresses=values("zed@ski.example"))
    taken = values("zed@ski.example")
    refused(
        d,
        he("ModifyContact", path=PARTNER, displayName="New", proxyAddresses=taken),
        CONSTRAINT,
        "zed@ski.example",
    )
    refused(d, he("ModifyDistributionList", path=SALES, proxyAddresses=taken), CONSTRAINT, "zed@ski.example")
    create(d, "sam", planName="BaseMail")
    refused(
        d,
        mad("ModifyUser", path=user_path("sam"), title="X", proxyAddresses=taken),
        CONSTRAINT,
        "zed@ski.example",
    )


def test_modify_user_addresses_need_a_mailbox_and_no_rename(d: Deployment) -> None:
    create(d, "max")
    refused(
        d,
        mad("ModifyUser", path=user_path("max"), proxyAddresses=values("m@ski.example")),
        OPERATION,
        "has no mailbox",
    )
    create(d, "bob", planName="BaseMail")
    both = mad(
        "ModifyUser",
        path=user_path("bob"),
        userPrincipalName="rob@alpineskihouse.com",
        proxyAddresses=values(),
    )
    refused(d, both, INVALID, "not both")


def test_another_organizations_recipients_are_missing_ones(d: Deployment) -> None:
    make_contoso(d)
    ok(d.submit(he("CreateContact", container=CONTOSO, name="Theirs", targetAddress="t@x.example")))
    ok(d.submit(he("CreateDistributionList", container=CONTOSO, name="Team")))
    admin = "admin@alpineskihouse.com"
    ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName=admin,
                isAdmin=True,
                newPassword="Adm1nPassw0rd!",
            )
        )
    )
    signed = d.authenticator.authenticate(admin, "Adm1nPassw0rd!")
    for procedure, cn in (("ModifyContact", "Theirs"), ("ModifyDistributionList", "Team")):
        outcome = d.submit(he(procedure, path=at(CONTOSO, cn), displayName="Mine"), caller=signed)
        assert outcome.error is not None and outcome.error.hex_code == NOT_FOUND, outcome.error
    # and an address on its own domains stays its own: alpineskihouse may not take contoso.com
    refused(
        d, he("ModifyContact", path=PARTNER, proxyAddresses=values("x@contoso.com")), INVALID, "contoso.com"
    )


def test_a_lists_new_alias_renames_its_primary_address_and_keeps_the_old_one(d: Deployment) -> None:
    ok(d.submit(he("ModifyDistributionList", path=SALES, proxyAddresses=values("sales@ski.example"))))
    response = ok(d.submit(he("ModifyDistributionList", path=SALES, alias="team")))
    assert changed(response, "recipient") == ["mail", "mailNickname", "proxyAddresses"]
    with d.transaction() as providers:
        sales = providers.directory.get(DN.from_path(SALES))
        assert (sales.first("mailNickname"), sales.first("mail")) == ("team", "team@alpineskihouse.com")
        assert sorted(sales.get("proxyAddresses")) == [
            "SMTP:team@alpineskihouse.com",
            "smtp:Sales@alpineskihouse.com",
            "smtp:sales@ski.example",
        ]
    assert changed(ok(d.submit(he("ModifyDistributionList", path=SALES, alias="team"))), "recipient") == []
    both = he("ModifyDistributionList", path=SALES, alias="crew", proxyAddresses=values("crew@ski.example"))
    ok(d.submit(both))  # the secondary addresses given replace those it had
    assert sorted(entry_of(d, SALES)["proxyAddresses"]) == [
        "SMTP:crew@alpineskihouse.com",
        "smtp:crew@ski.example",
    ]


def test_a_lists_alias_held_elsewhere_or_malformed_is_refused_naming_it(d: Deployment) -> None:
    create(d, "zed", planName="BaseMail")
    refused(d, he("ModifyDistributionList", path=SALES, alias="zed"), CONSTRAINT, "zed@alpineskihouse.com")
    refused(d, he("ModifyDistributionList", path=SALES, alias="a b"), INVALID, "alias")


def test_a_lists_primary_address_is_given_at_creation_and_changed_keeping_the_old_one(d: Deployment) -> None:
    made = he("CreateDistributionList", container=ALPINE, name="Desk", primarySmtpAddress="help@ski.example")
    ok(d.submit(made))
    assert entry_of(d, at(ALPINE, "Desk"))["proxyAddresses"] == ["SMTP:help@ski.example"]
    moved = he("ModifyDistributionList", path=SALES, primarySmtpAddress="deals@ski.example")
    assert changed(ok(d.submit(moved)), "recipient") == ["mail", "proxyAddresses"]
    with d.transaction() as providers:
        sales = providers.directory.get(DN.from_path(SALES))
        assert (sales.first("mail"), sales.first("mailNickname")) == ("deals@ski.example", "Sales")
        assert sorted(sales.get("proxyAddresses")) == [
            "SMTP:deals@ski.example",
            "smtp:Sales@alpineskihouse.com",
        ]
    assert changed(ok(d.submit(moved)), "recipient") == []  # a repeat writes nothing
    # given with a new alias, the primary given wins over the address the alias would rename
    both = he("ModifyDistributionList", path=SALES, alias="team", primarySmtpAddress="deals@ski.example")
    assert changed(ok(d.submit(both)), "recipient") == ["mailNickname"]
    assert entry_of(d, SALES)["proxyAddresses"][0] == "SMTP:deals@ski.example"


def test_a_lists_primary_address_held_elsewhere_or_outside_the_orgs_domains_is_refused(d: Deployment) -> None:
    create(d, "zed", planName="BaseMail")
    taken = he("ModifyDistributionList", path=SALES, primarySmtpAddress="zed@alpineskihouse.com")
    refused(d, taken, CONSTRAINT, "zed@alpineskihouse.com")
    outside = he("ModifyDistributionList", path=SALES, primarySmtpAddress="sales@contoso.com")
    refused(d, outside, INVALID, "primarySmtpAddress", "sales@contoso.com", "contoso.com")
    refused(
        d, he("ModifyDistributionList", path=SALES, primarySmtpAddress="a b"), INVALID, "primarySmtpAddress"
    )
    created = he("CreateDistributionList", container=ALPINE, name="Desk", primarySmtpAddress="d@contoso.com")
    refused(d, created, INVALID, "primarySmtpAddress", "d@contoso.com")
    again = he(
        "CreateDistributionList", container=ALPINE, name="Desk", primarySmtpAddress="Sales@alpineskihouse.com"
    )
    refused(d, again, CONSTRAINT, "Sales@alpineskihouse.com")


def test_a_contacts_new_alias_renames_its_primary_address_and_keeps_the_old_one(d: Deployment) -> None:
    response = ok(d.submit(he("ModifyContact", path=PARTNER, alias="ally")))
    assert changed(response, "recipient") == ["mail", "mailNickname", "proxyAddresses"]
    with d.transaction() as providers:
        partner = providers.directory.get(DN.from_path(PARTNER))
        assert (partner.first("mailNickname"), partner.first("mail")) == ("ally", "ally@alpineskihouse.com")
        assert sorted(partner.get("proxyAddresses")) == [
            "SMTP:ally@alpineskihouse.com",
            "smtp:p@alpineskihouse.com",
        ]
        assert partner.first("targetAddress") == "SMTP:p@x.example"
    assert changed(ok(d.submit(he("ModifyContact", path=PARTNER, alias="ally"))), "recipient") == []
    create(d, "zed", planName="BaseMail")
    refused(d, he("ModifyContact", path=PARTNER, alias="zed"), CONSTRAINT, "zed@alpineskihouse.com")
    refused(d, he("ModifyContact", path=PARTNER, alias="a b"), INVALID, "alias")
