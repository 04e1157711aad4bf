"""The organization at a DN: one lookup (hosting/organizations.py) for every namespace, each
refusing a path as it always has (clients match these descriptions), and changing nothing."""

from __future__ import annotations

import pytest

from openmps.app import Deployment
from support import he, make_alpineskihouse, org_path, refused, request_xml, rm

INVALID, NOT_FOUND = "0x80070057", "0x80072030"
RESELLER = org_path("WH")
HOSTING = "LDAP://OU=Hosting,DC=fabrikam,DC=com"
USERS = "LDAP://CN=Users,DC=fabrikam,DC=com"
MISSING = org_path("WH", "nowhere")


@pytest.fixture
def d(deployment: Deployment) -> Deployment:
    make_alpineskihouse(deployment)  # the reseller WH and its customer
    return deployment


def ocs(namespace: str, organization: str) -> str:
    return request_xml(namespace, "DeleteSipDomain", organization=organization, address="sip.example")


@pytest.mark.parametrize(
    ("request_xml_", "code", "description"),
    [
        (he("GetSMTPDomains", path=MISSING), NOT_FOUND, f"no such object: {MISSING}"),
        (he("GetSMTPDomains", path=USERS), INVALID, f"{USERS} is not an organization"),
        (
            he("GetSMTPDomains", path=RESELLER),
            INVALID,
            f"{RESELLER} is a reseller organization, not a customer organization",
        ),
        (rm("DeallocateOrganization", organization=USERS), INVALID, f"{USERS} is not an organization"),
        (
            rm("DeallocateOrganization", organization=RESELLER),
            INVALID,
            f"{RESELLER} is a reseller organization, not a business one",
        ),
        (
            ocs("Managed Office Communications Server", USERS),
            INVALID,
            f"{USERS} is not a business or reseller organization",
        ),
        (
            ocs("Managed Office Communications Server", HOSTING),
            INVALID,
            f"{HOSTING} is not a business or reseller organization",
        ),
        (
            ocs("Hosted Office Communications Server", HOSTING),
            INVALID,
            f"{HOSTING} is not a business or reseller organization",
        ),
        (ocs("Hosted Office Communications Server", MISSING), NOT_FOUND, f"no such object: {MISSING}"),
    ],
    ids=[
        "he-missing",
        "he-not-org",
        "he-kind",
        "rm-not-org",
        "rm-kind",
        "mocs-not-org",
        "mocs-kind",
        "hocs-kind",
        "hocs-missing",
    ],
)
def test_each_namespace_refuses_a_path_in_its_own_words(
    d: Deployment, request_xml_: str, code: str, description: str
) -> None:
    refused(d, request_xml_, code, description)
