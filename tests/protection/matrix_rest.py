"""Matrix rows of issue 16's procedures beyond Managed Active Directory (MPF Config, Error
Provider, the rest of the documented namespaces), kept apart so parallel work merges cleanly;
test_matrix.py adds them to its CASES and calls ``prepare`` on its world."""

from __future__ import annotations

from openmps.app import Deployment
from openmps.types import DN
from support import RawXml, ok, org_path, request_xml

# persona order as test_matrix.PERSONAS
EVERYONE = ("ok",) * 8
CUSTOMER_WRITE = ("ok", "ok", "ok", "ok", "hidden", "ok", "hidden", "denied")
CUSTOMER_READ = ("ok", "ok", "ok", "ok", "hidden", "ok", "hidden", "ok")
DOMAIN_ONLY = ("ok", "denied", "denied", "denied", "denied", "denied", "denied", "denied")
ORG_CREATE = ("ok", "ok", "ok", "denied", "hidden", "hidden", "hidden", "hidden")
ORG_MANAGE = ("ok", "ok", "ok", "denied", "hidden", "denied", "hidden", "denied")
ALPINE = org_path("WH", "alpineskihouse")
WORKER = "LDAP://CN=worker@alpineskihouse.com," + ALPINE[len("LDAP://") :]
PLAIN = "LDAP://CN=Plain," + ALPINE[len("LDAP://") :]  # a universal group, not mail-enabled
MIGRATED = "LDAP://CN=migrated," + ALPINE[len("LDAP://") :]  # a user with a mailbox of another system
KIT = "Hosted Email 2007 Import"
HOCS = "Hosted Office Communications Server"
IM_PLANS = "<availablePlans><planName>BasicIM</planName><planName>FederatedIM</planName></availablePlans>"


def mpf(namespace: str, procedure: str, /, **args: object) -> str:
    return request_xml(namespace, procedure, **args)


# SetError always fails with its code: inside a <try> the request succeeds for whoever may call it.
SET_ERROR_CAUGHT = (
    '<request><procedure><try><execute namespace="Error Provider" procedure="SetError"><executeData>'
    "<hr>0x80131509</hr></executeData></execute></try><catch/></procedure></request>"
)
TRANSLATE = '<executeData><errorMessageContext code="0x80070005"/>'

CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "GetNamespaces": (mpf("MPF Config", "GetNamespaces"), EVERYONE),
    "GetProcedures": (mpf("MPF Config", "GetProcedures", namespace="Hosted Exchange"), EVERYONE),
    "SetError": (SET_ERROR_CAUGHT, EVERYONE),
    "TranslateProvisioningError": (
        mpf("Error Provider", "TranslateProvisioningError").replace("<executeData>", TRANSLATE),
        EVERYONE,
    ),
    "TranslateUserError": (
        mpf("Error Provider", "TranslateUserError").replace("<executeData>", TRANSLATE),
        EVERYONE,
    ),
    "ReportEvent": (mpf("Error Provider", "ReportEvent", message="matrix"), EVERYONE),
    f"{HOCS}::AddAvailablePlans": (
        mpf(HOCS, "AddAvailablePlans", organization=ALPINE).replace(
            "<executeData>", f"<executeData>{IM_PLANS}"
        ),
        ORG_MANAGE,
    ),
    "ChangeOrganizationPlanAssignment": (
        mpf(HOCS, "ChangeOrganizationPlanAssignment", organization=ALPINE).replace(
            "<executeData>", f"<executeData>{IM_PLANS}"
        ),
        ORG_MANAGE,
    ),
    "GetOrganizationPlanAssignment": (
        mpf(HOCS, "GetOrganizationPlanAssignment", organization=ALPINE),
        CUSTOMER_READ,
    ),
    "GetUserPlanAssignment": (mpf(HOCS, "GetUserPlanAssignment", user=WORKER), CUSTOMER_READ),
    f"{HOCS}::SetSipUserProperties": (
        mpf(HOCS, "SetSipUserProperties", user=WORKER, enabledForFederation="true"),
        CUSTOMER_WRITE,
    ),
    "GetOrgType": (mpf("Managed Hosting", "GetOrgType", path=ALPINE), CUSTOMER_READ),
    "RemovePlanFromCustomer": (
        mpf("Managed Plans", "RemovePlanFromCustomer", path=WORKER, planName="BasicIM"),
        CUSTOMER_WRITE,
    ),
    "ExchangeEnableOrganization": (
        mpf(
            "Hosted Exchange",
            "ExchangeEnableOrganization",
            path=org_path("WH", "emptyco"),
            SMTPDomain="empty.co",
            mailStore=RawXml("<megabytes>10</megabytes>"),
        ),
        ORG_CREATE,
    ),
    "ReallocateBusinessMailstoreResource": (
        mpf(
            "Exchange Resource Manager Ex",
            "ReallocateBusinessMailstoreResource",
            mailStoreName="MS1",
            megabytes=5,
        ),
        DOMAIN_ONLY,
    ),
    "InitializeADForHosting": (mpf("Managed Helpers", "InitializeADForHosting"), DOMAIN_ONLY),
    "CreateServicePointer": (
        mpf(
            "Managed Helpers",
            "CreateServicePointer",
            organization=ALPINE,
            serviceType="Services",
            name="a.example",
        ),
        DOMAIN_ONLY,
    ),
    "DeleteServicePointer": (
        mpf(
            "Managed Helpers",
            "DeleteServicePointer",
            organization=ALPINE,
            serviceType="Services",
            name="b.example",
        ),
        DOMAIN_ONLY,
    ),
    "ImportConsumerOrganization": (
        mpf(
            "Hosted Active Directory Import",
            "ImportConsumerOrganization",
            organization=org_path("WH", "bareco"),
        ),
        DOMAIN_ONLY,
    ),
    "MailEnableGroup": (mpf("Hosted Email 2007", "MailEnableGroup", path=PLAIN), CUSTOMER_WRITE),
    "ImportMailbox": (mpf(KIT, "ImportMailbox", user=MIGRATED, planName="BaseMail"), DOMAIN_ONLY),
    "ImportSmtpDomains": (mpf(KIT, "ImportSmtpDomains", organization=ALPINE), DOMAIN_ONLY),
    "ImportOfflineAddressBook": (mpf(KIT, "ImportOfflineAddressBook", organization=ALPINE), DOMAIN_ONLY),
    "InitializeCustomerPlanDatabase": (mpf("Hosted Exchange", "InitializeCustomerPlanDatabase"), DOMAIN_ONLY),
    "EnsureExchangeVirtualDirectories": (
        mpf("Hosted Exchange", "EnsureExchangeVirtualDirectories", path=ALPINE),
        ORG_MANAGE,
    ),
    "ImportRootPublicFolder": (
        mpf(KIT, "ImportRootPublicFolder", organization=ALPINE, name="Spare"),
        DOMAIN_ONLY,
    ),
}
# rows of test_matrix.py whose name another namespace now shares: written Namespace::Name there
RENAMED = {
    "AddAvailablePlans": "Hosted Exchange::AddAvailablePlans",
    "SetSipUserProperties": "Managed Office Communications Server::SetSipUserProperties",
}


def extend(cases: dict[str, tuple[str, tuple[str, ...]]]) -> None:
    """Add these rows to test_matrix.py's, renaming its rows whose names are shared now."""
    for old, new in RENAMED.items():
        if old in cases:
            cases[new] = cases.pop(old)
    cases.update(CASES)


def prepare(d: Deployment) -> None:
    """What these rows need in the matrix's world beyond what test_matrix.py builds."""
    pointer = mpf(
        "Managed Helpers",
        "CreateServicePointer",
        organization=ALPINE,
        serviceType="Services",
        name="b.example",
    )
    ok(d.submit(pointer))
    with d.transaction() as providers:
        attrs = {"objectClass": ["top", "group"], "cn": ["Plain"], "groupType": ["8"]}
        providers.directory.add(DN.from_path(PLAIN), attrs)
        user = {
            "objectClass": ["top", "user"],
            "cn": ["migrated"],
            "userPrincipalName": ["migrated@alpineskihouse.com"],
            "homeMDB": ["CN=MS1,CN=First Storage Group,CN=InformationStore,CN=EXBE01"],
            "mDBOverQuotaLimit": ["1000"],
        }
        providers.directory.add(DN.from_path(MIGRATED), user)
