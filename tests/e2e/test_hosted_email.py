"""Hosted Email 2007: CreateDistributionList and MailEnableGroup."""

from __future__ import annotations

from openmps.types import DN
from support import World, he, ok, org_path, refused, request_xml

ALPINE = org_path("WH", "alpineskihouse")
CONTOSO = org_path("WH", "contoso")


def email(procedure: str, /, **args: object) -> str:
    return request_xml("Hosted Email 2007", procedure, **args)


def group(world: World, org: str, name: str, group_type: str) -> str:
    dn = DN.from_path(org).child("CN", name)
    with world.deployment.transaction() as providers:
        providers.directory.add(
            dn, {"objectClass": ["top", "group"], "cn": [name], "groupType": [group_type]}
        )
    return dn.ldap_path


def test_a_universal_group_is_mail_enabled_once(world: World) -> None:
    team = group(world, ALPINE, "Team", "8")
    staff = group(world, ALPINE, "Staff", "-2147483640")  # universal security
    made = ok(world.submit(email("MailEnableGroup", path=team), "customer_admin"))
    listed = made.find("data/distributionList")
    assert listed is not None and listed.get("path") == team
    assert [v.text for v in listed.iterfind("proxyAddresses/value")] == ["Team@alpineskihouse.com"]
    ok(world.submit(email("MailEnableGroup", path=staff, alias="all-staff")))
    with world.deployment.transaction() as providers:
        entry = providers.directory.get(DN.from_path(staff))
    assert entry.first("mail") == "all-staff@alpineskihouse.com"
    assert entry.first("msExchQueryBaseDN").casefold() == str(DN.from_path(ALPINE)).casefold()
    assert entry.get("showInAddressBook")
    recipients = ok(world.submit(he("GetRecipients", path=ALPINE))).findall(
        "data/recipients/distributionList"
    )
    # a mail-enabled security group is a recipient too (as sync's security groups are), and stays one
    assert entry.first("groupType") == "-2147483640"
    assert [r.get("name") for r in recipients] == ["Staff", "Team"]
    refused(world, email("MailEnableGroup", path=team), "0x80071392", "mail-enabled already")
    local = group(world, ALPINE, "Local", "-2147483646")  # global security
    refused(world, email("MailEnableGroup", path=local), "0x80131509", "not a universal group")
    admins = f"LDAP://CN=Admins@alpineskihouse,{ALPINE[7:]}"
    refused(world, email("MailEnableGroup", path=admins), "0x80070057")
    refused(world, email("MailEnableGroup", path=local, alias="bad alias!"), "0x80131509")
    other = group(world, CONTOSO, "Theirs", "8")
    hidden = world.submit(email("MailEnableGroup", path=other), "customer_admin")
    assert hidden.error is not None and hidden.error.hex_code == "0x80072030"
    denied = world.submit(email("MailEnableGroup", path=local), "user")
    assert denied.error is not None and denied.error.hex_code == "0x80070005"


def test_a_distribution_list_as_hosted_exchange_makes_it(world: World) -> None:
    made = ok(
        world.submit(
            email(
                "CreateDistributionList", container=ALPINE, name="Sales", managedBy="boss@alpineskihouse.com"
            ),
            "customer_admin",
        )
    )
    assert made.find("data/distributionList").get("name") == "Sales"
    refused(world, email("CreateDistributionList", container=ALPINE, name="Sales"), "0x80071392")
    refused(
        world,
        email("CreateDistributionList", container=ALPINE, name="X", managedBy="boss@contoso.com"),
        "0x80072030",
    )
