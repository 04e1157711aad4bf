"""Every public procedure × every persona of the delegation model.

ok: the call succeeds; denied: AccessDenied (the caller may see the target but lacks the role);
hidden: NotFound, exactly as for a target that does not exist, so no tenant can probe another.
Each cell runs on its own copy of one prepared world.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import matrix_rest
import pytest

from openmps.app import init_deployment, open_deployment, registry
from openmps.engine.context import Caller
from openmps.types import DN, Secret
from support import (
    HOSTING,
    RawXml,
    build_world,
    fast_passwords,
    he,
    mail_stores,
    ok,
    org_path,
    request_xml,
    rm,
)

ALPINE = org_path("WH", "alpineskihouse")
WORKER = "LDAP://CN=worker@alpineskihouse.com," + ALPINE[len("LDAP://") :]
PERSONAS = (
    "domain_admin",
    "hosting_admin",
    "reseller_admin",
    "reseller_csr",
    "other_reseller_admin",
    "customer_admin",
    "other_customer_admin",
    "user",
)
# persona order as above
CUSTOMER_WRITE = ("ok", "ok", "ok", "ok", "hidden", "ok", "hidden", "denied")
CUSTOMER_READ = ("ok", "ok", "ok", "ok", "hidden", "ok", "hidden", "ok")
ORG_CREATE = ("ok", "ok", "ok", "denied", "hidden", "hidden", "hidden", "hidden")
HOSTING_ONLY = ("ok", "ok", "hidden", "hidden", "hidden", "hidden", "hidden", "hidden")
DOMAIN_ONLY = ("ok", "denied", "denied", "denied", "denied", "denied", "denied", "denied")
EVERYONE = ("ok",) * 8
ORG_MANAGE = ("ok", "ok", "ok", "denied", "hidden", "denied", "hidden", "denied")
# an organization of its own: its role groups hold nobody, so its customers' admins see nothing of it
ORG_MANAGE_OWN = ("ok", "ok", "ok", "denied", "hidden", "hidden", "hidden", "hidden")
BOSS = "LDAP://CN=boss@alpineskihouse.com," + ALPINE[len("LDAP://") :]
FOURTH = org_path("R2", "fourthcoffee")


def ocs(procedure: str, /, **args: object) -> str:
    return request_xml("Managed Office Communications Server", procedure, **args)


def hadi(procedure: str, /, **args: object) -> str:
    return request_xml("Hosted Active Directory Import", procedure, **args)


def sp(procedure: str, /, **args: object) -> str:
    return request_xml("Service Provisioning", procedure, **args)


def hocs(procedure: str, /, **args: object) -> str:
    return request_xml("Hosted Office Communications Server", procedure, **args)


def mad(procedure: str, /, **args: object) -> str:
    return request_xml("Managed Active Directory", procedure, **args)


PARTNER = "LDAP://CN=Partner," + ALPINE[len("LDAP://") :]
OTHER_PARTNER = "LDAP://CN=Other Partner," + ALPINE[len("LDAP://") :]
LIST = "LDAP://CN=List," + ALPINE[len("LDAP://") :]
RAW_USER = "LDAP://CN=raw," + ALPINE[len("LDAP://") :]
CONSUMER = "LDAP://CN=cons@alpineskihouse.com," + ALPINE[len("LDAP://") :]
OTHER_CONSUMER = "LDAP://CN=cons2@alpineskihouse.com," + ALPINE[len("LDAP://") :]
BARE_ORG = org_path("WH", "adbare")
PLAIN_USER = "LDAP://CN=plain@alpineskihouse.com," + ALPINE[len("LDAP://") :]
TEAM = "LDAP://CN=Team," + ALPINE[len("LDAP://") :]
PLAIN_CONTACT = "LDAP://CN=Plain Contact," + ALPINE[len("LDAP://") :]
GONE = "LDAP://CN=gone@alpineskihouse.com,CN=Disconnected,CN=_Private," + ALPINE[len("LDAP://") :]

CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "CreateResellerOrganization": (
        he("CreateResellerOrganization", container=HOSTING, name="R9"),
        HOSTING_ONLY,
    ),
    "DeleteResellerOrganization": (he("DeleteResellerOrganization", path=org_path("R3")), HOSTING_ONLY),
    "CreateBusinessOrganization": (
        he("CreateBusinessOrganization", container=org_path("WH"), name="newco", SMTPDomain="newco.com"),
        ORG_CREATE,
    ),
    "DeleteBusinessOrganization": (
        he("DeleteBusinessOrganization", path=org_path("WH", "emptyco")),
        ORG_CREATE,
    ),
    "GetBusinessOrganization": (he("GetBusinessOrganization", path=ALPINE), CUSTOMER_READ),
    "CreateBusinessUser": (
        he("CreateBusinessUser", container=ALPINE, userPrincipalName="new@alpineskihouse.com", isAdmin=False),
        CUSTOMER_WRITE,
    ),
    "DeleteBusinessUser": (he("DeleteBusinessUser", path=WORKER), CUSTOMER_WRITE),
    "CreateMailbox": (he("CreateMailbox", path=BOSS, planName="BaseMail"), CUSTOMER_WRITE),
    "ChangeUserMailboxPlan": (he("ChangeUserMailboxPlan", path=WORKER, planName="BaseMail"), CUSTOMER_WRITE),
    "DeleteMailbox": (he("DeleteMailbox", path=WORKER), CUSTOMER_WRITE),
    "CreateSMTPDomain": (he("CreateSMTPDomain", path=ALPINE, SMTPDomain="ski.example"), ORG_MANAGE),
    "DeleteSMTPDomain": (he("DeleteSMTPDomain", path=ALPINE, SMTPDomain="spare.example"), ORG_MANAGE),
    "GetSMTPDomains": (he("GetSMTPDomains", path=ALPINE), CUSTOMER_READ),
    "CreateOrganizationAddressLists": (he("CreateOrganizationAddressLists", path=ALPINE), ORG_MANAGE),
    "CreatePublicFolder": (he("CreatePublicFolder", path=ALPINE, megabytes=10), ORG_MANAGE),
    "DeletePublicFolder": (he("DeletePublicFolder", path=ALPINE, name="Spare"), ORG_MANAGE),
    "GetPublicFolders": (he("GetPublicFolders", path=ALPINE), CUSTOMER_READ),
    "Hosted Exchange::CreateContact": (
        he("CreateContact", container=ALPINE, name="New", targetAddress="n@x.example"),
        CUSTOMER_WRITE,
    ),
    "Hosted Exchange::DeleteContact": (he("DeleteContact", path=PARTNER), CUSTOMER_WRITE),
    "CreateDistributionList": (
        he("CreateDistributionList", container=ALPINE, name="NewList"),
        CUSTOMER_WRITE,
    ),
    "ModifyContact": (he("ModifyContact", path=PARTNER, displayName="Our partner"), CUSTOMER_WRITE),
    "ModifyDistributionList": (he("ModifyDistributionList", path=LIST, description="Sales"), CUSTOMER_WRITE),
    "AddDistributionListMember": (he("AddDistributionListMember", path=LIST, member=PARTNER), CUSTOMER_WRITE),
    "RemoveDistributionListMember": (
        he("RemoveDistributionListMember", path=LIST, member=OTHER_PARTNER),
        CUSTOMER_WRITE,
    ),
    "DeleteDistributionList": (he("DeleteDistributionList", path=LIST), CUSTOMER_WRITE),
    "GetRecipients": (he("GetRecipients", path=ALPINE), CUSTOMER_READ),
    # Managed Office Communications Server: pools are Domain Admins'; SIP state is the org's
    "Managed Office Communications Server::Initialize": (ocs("Initialize"), DOMAIN_ONLY),
    "AddSharedPool": (ocs("AddSharedPool", poolFQDN="pool9.fabrikam.com"), DOMAIN_ONLY),
    "RemoveSharedPool": (ocs("RemoveSharedPool", poolFQDN="pool1.fabrikam.com"), DOMAIN_ONLY),
    "DeleteSharedPool": (ocs("DeleteSharedPool", poolFQDN="spare.fabrikam.com"), DOMAIN_ONLY),
    "GetPools": (ocs("GetPools"), DOMAIN_ONLY),
    "Managed Office Communications Server::CreateSipDomain": (
        ocs("CreateSipDomain", organization=ALPINE, address="spare.example"),  # its own: UserCreators
        CUSTOMER_WRITE,
    ),
    "Managed Office Communications Server::DeleteSipDomain": (
        ocs("DeleteSipDomain", organization=ALPINE, address="spare-sip.example"),
        CUSTOMER_WRITE,
    ),
    "ValidateSipDomainOwnership": (
        ocs("ValidateSipDomainOwnership", organization=ALPINE, address="alpineskihouse.com"),
        CUSTOMER_WRITE,
    ),
    "GetSipDomainsByOrganization": (ocs("GetSipDomainsByOrganization", organization=ALPINE), CUSTOMER_READ),
    "Managed Office Communications Server::CreateSipUser": (
        ocs("CreateSipUser", user=BOSS, enabled=True, primaryURI="sip:boss@alpineskihouse.com"),
        CUSTOMER_WRITE,
    ),
    "SetSipUserProperties": (ocs("SetSipUserProperties", user=WORKER, enabled=False), CUSTOMER_WRITE),
    "Managed Office Communications Server::GetSipUserProperties": (
        ocs("GetSipUserProperties", user=WORKER),
        CUSTOMER_READ,
    ),
    "Managed Office Communications Server::DeleteSipUser": (
        ocs("DeleteSipUser", user=WORKER),
        CUSTOMER_WRITE,
    ),
    # Hosted Office Communications Server: the same through plans
    "Hosted Office Communications Server::Initialize": (hocs("Initialize"), DOMAIN_ONLY),
    "CreateSipPlan": (
        hocs("CreateSipPlan", planName="P", features=RawXml('<feature name="SipFederation">1</feature>')),
        DOMAIN_ONLY,
    ),
    "Hosted Office Communications Server::CreateSipDomain": (
        hocs("CreateSipDomain", organization=ALPINE, address="spare.example"),
        CUSTOMER_WRITE,
    ),
    "Hosted Office Communications Server::DeleteSipDomain": (
        hocs("DeleteSipDomain", organization=ALPINE, address="spare-sip.example"),
        CUSTOMER_WRITE,
    ),
    "Hosted Office Communications Server::CreateSipUser": (
        hocs("CreateSipUser", user=BOSS, planName="BasicIM", primaryURI="sip:boss@alpineskihouse.com"),
        CUSTOMER_WRITE,
    ),
    "ChangeUserPlanAssignment": (
        hocs("ChangeUserPlanAssignment", user=WORKER, planName="FederatedIM"),
        CUSTOMER_WRITE,
    ),
    "EnableSipUser": (hocs("EnableSipUser", user=WORKER, enabled=False), CUSTOMER_WRITE),
    "Hosted Office Communications Server::GetSipUserProperties": (
        hocs("GetSipUserProperties", user=WORKER),
        CUSTOMER_READ,
    ),
    "Hosted Office Communications Server::DeleteSipUser": (
        hocs("DeleteSipUser", user=WORKER),
        CUSTOMER_WRITE,
    ),
    # MPS Import: Domain Admins only
    "EnableOrganizationForHosting": (
        request_xml("MPS Import", "EnableOrganizationForHosting", path=ALPINE),
        DOMAIN_ONLY,
    ),
    "EnableCustomerForPlans": (request_xml("MPS Import", "EnableCustomerForPlans", path=ALPINE), DOMAIN_ONLY),
    "ImportOrganization": (request_xml("MPS Import", "ImportOrganization", path=ALPINE), DOMAIN_ONLY),
    "EnableUserForHosting": (request_xml("MPS Import", "EnableUserForHosting", path=WORKER), DOMAIN_ONLY),
    "AllocateExistingMailbox": (
        request_xml("MPS Import", "AllocateExistingMailbox", path=CONSUMER, customerTypeName="ConsumerUser"),
        DOMAIN_ONLY,
    ),
    "ApplyMailboxPlan": (
        request_xml("MPS Import", "ApplyMailboxPlan", path=CONSUMER, planName="ConsumerMail"),
        DOMAIN_ONLY,
    ),
    "MPS Import::ImportUser": (
        request_xml("MPS Import", "ImportUser", path=WORKER, isAdmin=False),
        DOMAIN_ONLY,
    ),
    # Hosted Active Directory Import: Domain Admins only, on objects not under management yet
    "ImportResellerOrganization": (
        hadi("ImportResellerOrganization", organization=org_path("R8")),
        DOMAIN_ONLY,
    ),
    "ImportBusinessOrganization": (
        hadi("ImportBusinessOrganization", organization=org_path("WH", "bareco"), planName="BaseMail"),
        DOMAIN_ONLY,
    ),
    "Hosted Active Directory Import::ImportUser": (hadi("ImportUser", user=RAW_USER), DOMAIN_ONLY),
    "ImportGroup": (hadi("ImportGroup", group=LIST), DOMAIN_ONLY),
    "ImportContact": (hadi("ImportContact", contact=PARTNER), DOMAIN_ONLY),
    "CreateConsumerUser": (
        he(
            "CreateConsumerUser",
            container=ALPINE,
            userPrincipalName="new2@alpineskihouse.com",
            sAMAccountName="c_new2",
        ),
        CUSTOMER_WRITE,
    ),
    "DeleteConsumerUser": (he("DeleteConsumerUser", path=CONSUMER), CUSTOMER_WRITE),
    "CreateConsumerVanityDomain": (
        he("CreateConsumerVanityDomain", path=CONSUMER, name="me", SMTPDomain="vanity.example"),
        ORG_MANAGE,  # a new domain: CreateSMTPDomain's role (issue 18)
    ),
    "GetBusinessUser": (he("GetBusinessUser", path=WORKER), CUSTOMER_READ),
    "GetBusinessUsers": (he("GetBusinessUsers", path=ALPINE), CUSTOMER_READ),
    # service plans: defined by Domain Admins, read by all, offered to an org by its OrgCreators
    "CreatePlanFeatureTypes": (
        he(
            "CreatePlanFeatureTypes",
            featureTypes=RawXml(
                "<featureType><featureName>F</featureName><nativeAttribute>f</nativeAttribute>"
                "<parentNode>mail</parentNode></featureType>"
            ),
        ),
        DOMAIN_ONLY,
    ),
    "CreateMailboxPlan": (
        he("CreateMailboxPlan", planName="P", features=RawXml('<feature name="MailboxSize">5</feature>')),
        DOMAIN_ONLY,
    ),
    "GetPlans": (he("GetPlans"), EVERYONE),
    "GetPlanDetail": (he("GetPlanDetail", planName="GoldMail"), EVERYONE),
    "AddAvailablePlans": (
        he("AddAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>GoldMail</planName>")),
        ORG_MANAGE,
    ),
    "RemoveAvailablePlans": (
        he("RemoveAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>BaseMail</planName>")),
        ORG_MANAGE,
    ),
    "GetAvailablePlans": (he("GetAvailablePlans", path=ALPINE), CUSTOMER_READ),
    "GetBillableEvents": (he("GetBillableEvents", path=ALPINE), ORG_MANAGE),
    # Exchange Resource Manager: infrastructure, Domain Admins only
    "AddExchangeResources": (
        rm("AddExchangeResources", mailStores=mail_stores(("EXBE09", "MS9", 50, True))),
        DOMAIN_ONLY,
    ),
    "GetExchangeResources": (rm("GetExchangeResources"), DOMAIN_ONLY),
    "ModifyResources": (rm("ModifyResources", mailStoreName="MS1", megabytes=2000), DOMAIN_ONLY),
    "RemoveExchangeResources": (rm("RemoveExchangeResources", mailStoreName="SPARE"), DOMAIN_ONLY),
    "AllocateOrganization": (
        rm(
            "AllocateOrganization",
            organization=org_path("WH", "contoso"),
            mailStore=RawXml("<megabytes>10</megabytes>"),
        ),
        DOMAIN_ONLY,
    ),
    "DeallocateOrganization": (rm("DeallocateOrganization", organization=FOURTH), DOMAIN_ONLY),
    "ReallocateOrganizationMailNoMove": (
        rm(
            "ReallocateOrganizationMailNoMove",
            organization=ALPINE,
            mailStore=RawXml("<megabytes>5</megabytes>"),
        ),
        DOMAIN_ONLY,
    ),
    "AllocatePublicFolder": (rm("AllocatePublicFolder", organization=ALPINE, megabytes=10), DOMAIN_ONLY),
    "DeallocatePublicFolder": (
        rm(
            "DeallocatePublicFolder",
            organization=ALPINE,
            publicStoreName="Public Folder Store (EXBE02)",
            megabytes=10,
        ),
        DOMAIN_ONLY,
    ),
    "AllocateMailbox": (
        rm("AllocateMailbox", organization=ALPINE, mailbox=BOSS, kilobytes=1000),
        DOMAIN_ONLY,
    ),
    "DeallocateMailbox": (rm("DeallocateMailbox", mailbox=WORKER), DOMAIN_ONLY),
    "AllocateConsumerUserMailbox": (
        rm(
            "AllocateConsumerUserMailbox",
            userPrincipalName="cons2@alpineskihouse.com",
            mailbox=OTHER_CONSUMER,
            kilobytes=1000,
        ),
        DOMAIN_ONLY,
    ),
    "QueryMailboxAllocation": (rm("QueryMailboxAllocation", mailbox=WORKER), DOMAIN_ONLY),
    # Managed Active Directory
    "ModifyUser": (mad("ModifyUser", path=WORKER, title="Ski instructor"), CUSTOMER_WRITE),
    "ModifyOrganization": (mad("ModifyOrganization", path=ALPINE, description="Ski shop"), ORG_MANAGE),
    "CreateOrganization": (mad("CreateOrganization", container=org_path("WH"), name="adco"), ORG_CREATE),
    "DeleteOrganization": (mad("DeleteOrganization", path=BARE_ORG), ORG_MANAGE_OWN),
    "CreateUser": (
        mad("CreateUser", container=ALPINE, userPrincipalName="ad@alpineskihouse.com"),
        CUSTOMER_WRITE,
    ),
    "DeleteUser": (mad("DeleteUser", path=PLAIN_USER), CUSTOMER_WRITE),
    "CreateGroup": (mad("CreateGroup", container=ALPINE, name="New Team"), CUSTOMER_WRITE),
    "DeleteGroup": (mad("DeleteGroup", path=TEAM), CUSTOMER_WRITE),
    "Managed Active Directory::CreateContact": (
        mad("CreateContact", container=ALPINE, name="New"),
        CUSTOMER_WRITE,
    ),
    "Managed Active Directory::DeleteContact": (mad("DeleteContact", path=PLAIN_CONTACT), CUSTOMER_WRITE),
    "GetPolicy": (
        mad("GetPolicy", policyName="customer", containerPath=ALPINE, objectName="x", objectType="user"),
        CUSTOMER_READ,
    ),
    "ExpandWin2KCapacity": (
        mad("ExpandWin2KCapacity", organization=ALPINE, capacityType="UserN", multiplier=4),
        ORG_MANAGE,
    ),
    "DistributeGroupMemberships": (
        mad("DistributeGroupMemberships", organization=ALPINE, capacityType="UserN"),
        ORG_MANAGE,
    ),
    "GetWin2KCapacityPending": (mad("GetWin2KCapacityPending", organization=ALPINE), ORG_MANAGE),
    "GetThisOrganizationRoot": (mad("GetThisOrganizationRoot", path=WORKER), CUSTOMER_READ),
    "GetForeignOwnerOrg": (mad("GetForeignOwnerOrg", path=ALPINE), CUSTOMER_READ),
    "GetOtherWellKnownObject": (mad("GetOtherWellKnownObject", path=ALPINE, wkName="OrgType"), CUSTOMER_READ),
    "GetCallerUIRoles": (mad("GetCallerUIRoles"), EVERYONE),
    "EnableUser": (mad("EnableUser", path=WORKER), CUSTOMER_WRITE),
    "DisableUser": (mad("DisableUser", path=WORKER), CUSTOMER_WRITE),
    # someone else's password: a reset by an administrator over the user (the user's own: its test)
    "ChangeUserPassword": (
        mad("ChangeUserPassword", path=CONSUMER, newPassword="N3w-passw0rd!"),
        CUSTOMER_WRITE,
    ),
    # Service Provisioning: the org's providers configure its sync, its admins read it and hold mailboxes
    "SetSyncConnection": (
        sp(
            "SetSyncConnection",
            organization=ALPINE,
            sourceURL="ldap://dc1.corp.example",
            bindDN="CN=sync,DC=corp,DC=example",
            bindPassword="Bind-Passw0rd",
        ),
        ORG_MANAGE,
    ),
    "RemoveSyncConnection": (sp("RemoveSyncConnection", organization=ALPINE), ORG_MANAGE),
    "SetSyncRules": (sp("SetSyncRules", organization=ALPINE, newHire=True), ORG_MANAGE),
    "GetSyncConfiguration": (sp("GetSyncConfiguration", organization=ALPINE), CUSTOMER_WRITE),
    "GetSyncStatus": (sp("GetSyncStatus", organization=ALPINE), CUSTOMER_WRITE),
    "SetLitigationHold": (sp("SetLitigationHold", user=WORKER, reason="case 1"), CUSTOMER_WRITE),
    "ClearLitigationHold": (sp("ClearLitigationHold", user=CONSUMER), CUSTOMER_WRITE),
    "DisconnectUser": (sp("DisconnectUser", user=WORKER), ORG_MANAGE),
    "PreviewSync": (
        sp(
            "PreviewSync",
            organization=ALPINE,
            snapshot=RawXml(
                "<line>dn: CN=X,DC=corp,DC=example</line><line>objectClass: contact</line>"
                "<line>objectGUID: 11111111-1111-1111-1111-111111111111</line><line>mail: x@y.example</line>"
            ),
        ),
        CUSTOMER_WRITE,
    ),
    "ReconnectUser": (sp("ReconnectUser", user=GONE), ORG_MANAGE),
}
matrix_rest.extend(CASES)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("world") / "home"
    d = init_deployment(
        home, domain="fabrikam.com", admin_password=Secret("Adm1nPassw0rd!"), passwords=fast_passwords()
    )
    world = build_world(d)
    ok(d.submit(he("CreateResellerOrganization", container=HOSTING, name="R3")))
    ok(
        d.submit(
            he("CreateBusinessOrganization", container=org_path("WH"), name="emptyco", SMTPDomain="empty.co")
        )
    )
    stores = mail_stores(("EXBE01", "MS1", 1000, True), ("EXBE01", "SPARE", 100, False))
    public = RawXml("<publicStore><serverName>EXBE02</serverName><megabytes>100</megabytes></publicStore>")
    ok(d.submit(rm("AddExchangeResources", mailStores=stores, publicStores=public)))
    for org in (ALPINE, FOURTH):
        ok(
            d.submit(
                rm("AllocateOrganization", organization=org, mailStore=RawXml("<megabytes>100</megabytes>"))
            )
        )
    ok(d.submit(rm("AllocateMailbox", organization=ALPINE, mailbox=WORKER, kilobytes=1000)))
    ok(d.submit(he("AddAvailablePlans", path=ALPINE, availablePlans=RawXml("<planName>BaseMail</planName>"))))
    ok(d.submit(he("CreateSMTPDomain", path=ALPINE, SMTPDomain="spare.example")))
    ok(d.submit(he("CreatePublicFolder", path=ALPINE, megabytes=10, name="Spare")))
    for name in ("Partner", "Other Partner"):
        ok(
            d.submit(
                he("CreateContact", container=ALPINE, name=name, targetAddress=f"{name[0]}@partner.example")
            )
        )
    ok(d.submit(he("CreateDistributionList", container=ALPINE, name="List")))
    ok(d.submit(he("AddDistributionListMember", path=LIST, member=OTHER_PARTNER)))
    ok(d.submit(rm("AddExchangeResources", consumerMailStores=mail_stores(("EXC01", "C1", 100, True)))))
    ok(d.submit(ocs("Initialize")))
    for pool in ("pool1.fabrikam.com", "spare.fabrikam.com"):
        ok(d.submit(ocs("AddSharedPool", poolFQDN=pool)))
    for domain in ("alpineskihouse.com", "spare-sip.example"):
        ok(d.submit(ocs("CreateSipDomain", organization=ALPINE, address=domain)))
    with d.transaction() as providers:  # objects a migration tool left, not under management
        for path, attrs in (
            (org_path("R8"), {"objectClass": ["top", "organizationalUnit"], "ou": ["R8"]}),
            (
                org_path("WH", "bareco"),
                {
                    "objectClass": ["top", "organizationalUnit"],
                    "ou": ["bareco"],
                    "uPNSuffixes": ["bare.example"],
                },
            ),
            (
                RAW_USER,
                {
                    "objectClass": ["top", "user"],
                    "cn": ["raw"],
                    "userPrincipalName": ["raw@alpineskihouse.com"],
                },
            ),
        ):
            providers.directory.add(DN.from_path(path), attrs)
    ims = RawXml("<planName>BasicIM</planName><planName>FederatedIM</planName>")
    ok(d.submit(he("AddAvailablePlans", path=ALPINE, availablePlans=ims)))
    worker = hocs(
        "CreateSipUser",
        user=WORKER,
        planName="BasicIM",
        primaryURI="sip:worker@alpineskihouse.com",
        poolFQDN="pool1.fabrikam.com",
    )
    ok(d.submit(worker))
    for local, plan in (("cons", "ConsumerMail"), ("cons2", None)):
        upn = f"{local}@alpineskihouse.com"
        ok(
            d.submit(
                he(
                    "CreateConsumerUser",
                    container=ALPINE,
                    userPrincipalName=upn,
                    sAMAccountName=f"c_{local}",
                    planName=plan,
                )
            )
        )
    # Managed Active Directory's own objects (no mailbox, no plans record)
    ok(d.submit(mad("CreateUser", container=ALPINE, userPrincipalName="plain@alpineskihouse.com")))
    ok(d.submit(mad("CreateOrganization", container=org_path("WH"), name="adbare")))
    ok(d.submit(mad("ExpandWin2KCapacity", organization=ALPINE, capacityType="UserN", multiplier=2)))
    ok(d.submit(mad("CreateGroup", container=ALPINE, name="Team")))
    ok(d.submit(mad("CreateContact", container=ALPINE, name="Plain Contact")))
    matrix_rest.prepare(d)
    connection = CASES["SetSyncConnection"][0]
    ok(d.submit(connection))
    ok(d.submit(sp("SetLitigationHold", user=CONSUMER)))
    ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=ALPINE,
                userPrincipalName="gone@alpineskihouse.com",
                isAdmin=False,
            )
        )
    )
    ok(d.submit(sp("DisconnectUser", user=GONE.replace(",CN=Disconnected,CN=_Private", ""))))
    (home / "callers.txt").write_text(
        "\n".join(f"{p}\t{c.name}" for p, c in world.callers.items() if c is not None)
    )
    d.sql.dispose()
    return home


def test_every_public_procedure_is_in_the_matrix() -> None:
    specs = [s for s in registry() if s.access == "public"]
    names = Counter(s.name for s in specs)
    # a name two namespaces share is written Namespace::Name
    public = {s.name if names[s.name] == 1 else f"{s.namespace}::{s.name}" for s in specs}
    assert public == set(CASES)


def _caller(home: Path, persona: str) -> Caller:
    names = dict(line.split("\t") for line in (home / "callers.txt").read_text().splitlines())
    d = open_deployment(home, passwords=fast_passwords())
    from openmps.delegation.session import caller_for

    return d.read(
        lambda directory: caller_for(
            directory,
            directory.holder("userPrincipalName", names[persona])
            or DN.parse("CN=Administrator,CN=Users,DC=fabrikam,DC=com"),
        )
    )


@pytest.mark.parametrize("procedure", list(CASES))
@pytest.mark.parametrize("persona", PERSONAS)
def test_matrix(template: Path, tmp_path: Path, procedure: str, persona: str) -> None:
    home = tmp_path / "home"
    shutil.copytree(template, home)
    document, expected = CASES[procedure]
    want = expected[PERSONAS.index(persona)]
    d = open_deployment(home, passwords=fast_passwords())
    caller = _caller(home, persona)
    outcome = d.submit(document, caller)
    got = (
        "ok"
        if outcome.error is None
        else {
            "0x80070005": "denied",
            "0x80072030": "hidden",
        }.get(outcome.error.hex_code, f"{outcome.error.hex_code} {outcome.error.description}")
    )
    assert got == want, f"{persona} → {procedure}: {outcome.to_bytes().decode()}"


def test_hidden_is_indistinguishable_from_missing(template: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(template, home)
    d = open_deployment(home, passwords=fast_passwords())
    caller = _caller(home, "other_customer_admin")
    real = d.submit(he("GetBusinessUser", path=WORKER), caller).error
    fake_path = WORKER.replace("worker@", "nobody@")
    fake = d.submit(he("GetBusinessUser", path=fake_path), caller).error
    assert real is not None and fake is not None
    assert (real.hex_code, type(real)) == (fake.hex_code, type(fake))
    assert real.description == f"no such object: {WORKER}"
    assert fake.description == f"no such object: {fake_path}"


@pytest.mark.parametrize("procedure", list(CASES))
def test_anonymous_over_http_is_refused(template: Path, tmp_path: Path, procedure: str) -> None:
    from openmps.web.app import create_app
    from support import AsgiClient

    home = tmp_path / "home"
    shutil.copytree(template, home)
    d = open_deployment(home, passwords=fast_passwords())
    client = AsgiClient(create_app(d))
    before = d.read(lambda directory: len(directory.search(directory.get(HOSTING_DN).dn)))
    response = client.post("/provisioning", content=CASES[procedure][0].encode())
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.headers["www-authenticate"].startswith("Basic")  # type: ignore[attr-defined]
    assert b'code="0x8007052E"' in response.content  # type: ignore[attr-defined]
    after = d.read(lambda directory: len(directory.search(directory.get(HOSTING_DN).dn)))
    assert before == after


HOSTING_DN = DN.from_path(HOSTING)
