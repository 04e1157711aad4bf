"""The User role of AllUsers@<Org> holds at that organization only (reference §5.2): a plain member
of a reseller's AllUsers@ sees its reseller, and none of the reseller's customers."""

from __future__ import annotations

from support import USER_PASSWORD, World, add_member, create_user, he, ok, org_path

WH = org_path("WH")
ALPINE = org_path("WH", "alpineskihouse")
READS = (
    "GetBusinessOrganization",
    "GetBusinessUsers",
    "GetRecipients",
    "GetSMTPDomains",
    "GetAvailablePlans",
)


def test_a_member_of_a_resellers_all_users_sees_none_of_its_customers(world: World) -> None:
    d = world.deployment
    create_user(d, org_path("WH", "staff"), "plain@staff.example")
    add_member(d, "CN=AllUsers@WH,CN=_Private,OU=WH,OU=Hosting,DC=fabrikam,DC=com", "plain@staff.example")
    world.callers["member"] = d.authenticator.authenticate("plain@staff.example", USER_PASSWORD)
    ok(world.submit(he("GetBusinessOrganization", path=WH), "member"))  # its own organization
    for procedure in READS:
        outcome = world.submit(he(procedure, path=ALPINE), "member")
        assert outcome.error is not None and outcome.error.hex_code == "0x80072030", (
            procedure,
            outcome.error,
        )
        # the same answer as for an organization that does not exist
        missing = world.submit(he(procedure, path=org_path("WH", "nosuchco")), "member")
        assert missing.error is not None
        assert outcome.error.description == missing.error.description.replace("nosuchco", "alpineskihouse")
        ok(world.submit(he(procedure, path=ALPINE), "user"))  # while the customer's own users may
