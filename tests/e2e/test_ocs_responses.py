"""Every Managed and Hosted OCS procedure's whole response, byte for byte, through the XML edge
(each shape of its answer, with the request's <after> merge), as it answered before its results
were typed.  GUIDs (the SIP instance IDs) are masked."""

from __future__ import annotations

import re
from pathlib import Path

from support import RawXml, World, answered, golden_text, he, org_path, request_xml

GOLDEN = Path(__file__).parent / "golden" / "ocs_responses.txt"
ALPINE = org_path("WH", "alpineskihouse")
CONTOSO = org_path("WH", "contoso")
WH = org_path("WH")
WORKER = f"LDAP://CN=worker@alpineskihouse.com,{ALPINE[7:]}"
BOSS = f"LDAP://CN=boss@alpineskihouse.com,{ALPINE[7:]}"
POOL2 = "LDAP://CN=pool2.fabrikam.com,CN=Pools,CN=RTC Service,CN=Microsoft,CN=System,DC=fabrikam,DC=com"
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def ocs(procedure: str, /, **args: object) -> str:
    return request_xml("Managed Office Communications Server", procedure, **args)


def hocs(procedure: str, /, **args: object) -> str:
    return request_xml("Hosted Office Communications Server", procedure, **args)


def scenario(world: World) -> list[tuple[str, str]]:
    """Each procedure once or more, every shape of its answer: (request, masked response)."""
    steps = [
        ocs("GetPools"),  # no pools container yet
        ocs("Initialize"),
        ocs("AddSharedPool", poolFQDN="Pool1.Fabrikam.com"),
        ocs("AddSharedPool", poolFQDN="pool1.fabrikam.com"),  # again: available again
        ocs("AddSharedPool", poolFQDN="pool2.fabrikam.com"),
        ocs("AddSharedPool", poolFQDN="pool3.fabrikam.com"),
        ocs("RemoveSharedPool", poolFQDN="pool3.fabrikam.com"),
        ocs("DeleteSharedPool", poolFQDN="pool3.fabrikam.com"),
        ocs("DeleteSharedPool", poolFQDN="pool3.fabrikam.com"),  # not registered: fine
        ocs("GetSipDomainsByOrganization", organization=ALPINE),  # none
        ocs("CreateSipDomain", organization=ALPINE, address="AlpineSkiHouse.com."),
        ocs("CreateSipDomain", organization=WH, address="wh-im.example"),
        ocs("CreateSipDomain", organization=ALPINE, address="spare.example"),
        ocs("DeleteSipDomain", organization=ALPINE, address="spare.example"),
        ocs("GetSipDomainsByOrganization", organization=ALPINE),
        ocs("ValidateSipDomainOwnership", organization=ALPINE, address="alpineskihouse.com"),
        ocs("ValidateSipDomainOwnership", organization=ALPINE, address="WH-IM.example"),
        ocs(
            "CreateSipUser",
            user=WORKER,
            enabled=True,
            primaryURI="sip:Worker@AlpineSkiHouse.com",
            homeServerDN=POOL2,
            enabledForFederation=True,
            publicNetworkEnabled=True,
            meetingPolicy="Open",
        ),
        ocs(
            "SetSipUserProperties",
            user=WORKER,
            enabled=False,
            primaryURI="sip:worker@wh-im.example",
            enabledForEnhancedPresence=True,
            allowOrganizeMeetingWithAnonymousParticipants=True,
            enabledForInternetAccess=True,
            publicNetworkEnabled=False,
            poolFQDN="pool1.fabrikam.com",
        ),
        ocs("SetSipUserProperties", user=WORKER),  # nothing given: unchanged
        ocs("GetSipUserProperties", user=WORKER),
        ocs("GetPools"),
        hocs("GetSipUserProperties", user=WORKER),  # no IM plan: an empty planName
        ocs("DeleteSipUser", user=WORKER),
        hocs("Initialize"),
        hocs(
            "CreateSipPlan",
            planName="MeetIM",
            planDescription="Meetings & more",
            features=RawXml(
                '<feature name="SipAnonymousMeetings">1</feature><feature name="SipMeetingPolicy">Open</feature>'
            ),
        ),
        he("AddAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>MeetIM</planName>")),
        he("AddAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>BasicIM</planName>")),
        hocs("CreateSipDomain", organization=ALPINE, address="alpine-im.example"),
        hocs("DeleteSipDomain", organization=ALPINE, address="alpine-im.example"),
        hocs("CreateSipUser", user=WORKER, planName="MeetIM", primaryURI="sip:worker@alpineskihouse.com"),
        hocs(
            "CreateSipUser",
            user=BOSS,
            planName="BasicIM",
            primaryURI="sip:boss@wh-im.example",
            enabled=False,
            poolFQDN="pool2.fabrikam.com",
            enabledForFederation=True,
            meetingPolicy="Closed",
        ),
        hocs("GetSipUserProperties", user=WORKER),
        hocs("ChangeUserPlanAssignment", user=WORKER, planName="BasicIM"),
        hocs("EnableSipUser", user=WORKER, enabled=False),
        hocs("EnableSipUser", user=BOSS),
        hocs("GetSipUserProperties", user=BOSS),
        hocs("DeleteSipUser", user=BOSS),
        ocs("GetPools"),
    ]
    return answered(world.submit, steps, ((GUID, "GUID"),))


def test_responses_are_unchanged(world: World) -> None:
    assert golden_text(scenario(world)) == GOLDEN.read_text(encoding="utf-8")


if __name__ == "__main__":  # regenerate the golden file (only before a port, never to pass after one)
    import sys
    import tempfile

    from openmps.app import init_deployment
    from openmps.types import Secret
    from support import ADMIN_PASSWORD, build_world, fast_passwords

    with tempfile.TemporaryDirectory() as home:
        deployment = init_deployment(
            Path(home) / "home",
            domain="fabrikam.com",
            admin_password=Secret(ADMIN_PASSWORD),
            passwords=fast_passwords(),
        )
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(golden_text(scenario(build_world(deployment))), encoding="utf-8")
    sys.exit(0)
