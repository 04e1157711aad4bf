"""A failing request leaves no trace: a failure is injected after every directory write of every
write procedure, and the whole store must equal its state before the request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from openmps.app import Deployment, open_deployment
from openmps.directory.interface import Directory, Scope
from openmps.errors import InternalError
from openmps.types import DN
from support import (
    HOSTING,
    RawXml,
    fast_passwords,
    he,
    mail_stores,
    make_alpineskihouse,
    ok,
    org_path,
    request_xml,
    rm,
    snapshot,
)

WRITES = ("add", "modify", "delete", "move")
SEEDS = Path(__file__).resolve().parents[1] / "seeds"


class InjectedFault(InternalError):
    """Raised by the test after the N-th directory write."""


class FailAfter:
    """A Directory that performs each write, then fails after the ``n``-th one."""

    def __init__(self, inner: Directory, n: int, counter: list[int]) -> None:
        self._inner = inner
        self._n = n
        self._counter = counter

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in WRITES:
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            self._counter[0] += 1
            if self._counter[0] == self._n:
                raise InjectedFault(f"injected failure after write {self._n} ({name})")
            return result

        return write


SCENARIOS: dict[str, tuple[Callable[[Deployment], None], Sequence[str]]] = {}


def scenario(name: str, setup: Callable[[Deployment], None], *requests: str) -> None:
    SCENARIOS[name] = (setup, requests)


def _reseller(d: Deployment) -> None:
    ok(d.submit(he("CreateResellerOrganization", container=HOSTING, name="WH")))


def _user(d: Deployment) -> None:
    make_alpineskihouse(d)
    ok(
        d.submit(
            he(
                "CreateBusinessUser",
                container=org_path("WH", "alpineskihouse"),
                userPrincipalName="bob@alpineskihouse.com",
                isAdmin=True,
                newPassword="Pass1Word",
            )
        )
    )


def _nothing(d: Deployment) -> None:
    return None


scenario(
    "CreateResellerOrganization", _nothing, he("CreateResellerOrganization", container=HOSTING, name="WH")
)
scenario(
    "CreateBusinessOrganization",
    _reseller,
    he(
        "CreateBusinessOrganization",
        container=org_path("WH"),
        name="alpineskihouse",
        SMTPDomain="alpineskihouse.com",
    ),
)
scenario(
    "CreateBusinessUser",
    make_alpineskihouse,
    he(
        "CreateBusinessUser",
        container=org_path("WH", "alpineskihouse"),
        userPrincipalName="bob@alpineskihouse.com",
        isAdmin=True,
        newPassword="Pass1Word",
        displayName="Bob",
    ),
)
scenario(
    "DeleteBusinessUser",
    _user,
    he("DeleteBusinessUser", path="LDAP://CN=bob@alpineskihouse.com," + org_path("WH", "alpineskihouse")[7:]),
)
scenario(
    "DeleteBusinessOrganization",
    make_alpineskihouse,
    he("DeleteBusinessOrganization", path=org_path("WH", "alpineskihouse")),
)


def _customer_with_storage(d: Deployment) -> None:
    make_alpineskihouse(d)
    ok(d.submit(rm("AddExchangeResources", mailStores=mail_stores(("EXBE01", "MS1", 500, True)))))
    alpine = org_path("WH", "alpineskihouse")
    ok(
        d.submit(
            rm("AllocateOrganization", organization=alpine, mailStore=RawXml("<megabytes>200</megabytes>"))
        )
    )


# the storage returned to the store must come back with the organization
scenario(
    "DeleteBusinessOrganization with storage",
    _customer_with_storage,
    he("DeleteBusinessOrganization", path=org_path("WH", "alpineskihouse")),
)
scenario(
    "DeleteResellerOrganization",
    _reseller,
    he("DeleteResellerOrganization", path=org_path("WH")),
)


def _reseller_with_stores(d: Deployment) -> None:
    _reseller(d)
    ok(d.submit(rm("AddExchangeResources", mailStores=mail_stores(("EXBE01", "MS1", 500, True)))))


def _exchange(d: Deployment) -> None:
    make_alpineskihouse(d, exchange=True)


def _mailbox(d: Deployment) -> None:
    make_alpineskihouse(d, exchange=True)
    ok(d.submit((SEEDS / "003-request-1.xml").read_text()))


ADMIN = "LDAP://CN=admin@alpineskihouse.com," + org_path("WH", "alpineskihouse")[7:]
scenario("CreateBusinessUser with a mailbox (seed 003)", _exchange, (SEEDS / "003-request-3.xml").read_text())
scenario(
    "CreateBusinessUser with proxy addresses",
    _exchange,
    he(
        "CreateBusinessUser",
        container=org_path("WH", "alpineskihouse"),
        userPrincipalName="carol@alpineskihouse.com",
        isAdmin=False,
        planName="GoldMail",
        proxyAddresses=RawXml("<value>c@alpineskihouse.com</value><value>sales@alpineskihouse.com</value>"),
        alias="carol.k",
    ),
)
scenario("ChangeUserMailboxPlan", _mailbox, he("ChangeUserMailboxPlan", path=ADMIN, planName="GoldMail"))
scenario("DeleteMailbox", _mailbox, he("DeleteMailbox", path=ADMIN))
scenario("DeleteBusinessUser with a mailbox", _mailbox, he("DeleteBusinessUser", path=ADMIN))
scenario(
    "CreateSMTPDomain as primary",
    make_alpineskihouse,
    he(
        "CreateSMTPDomain",
        path=org_path("WH", "alpineskihouse"),
        SMTPDomain="ski.example",
        domainTypeName="PrimaryDomain",
    ),
)


def _secondary(d: Deployment) -> None:
    make_alpineskihouse(d)
    ok(d.submit(he("CreateSMTPDomain", path=org_path("WH", "alpineskihouse"), SMTPDomain="ski.example")))


scenario(
    "DeleteSMTPDomain",
    _secondary,
    he("DeleteSMTPDomain", path=org_path("WH", "alpineskihouse"), SMTPDomain="ski.example"),
)
# an organization whose address lists fail leaves no allocation behind
scenario(
    "CreateBusinessOrganization with storage and address lists",
    _reseller_with_stores,
    he(
        "CreateBusinessOrganization",
        container=org_path("WH"),
        name="alpineskihouse",
        SMTPDomain="alpineskihouse.com",
        mailStore=RawXml("<megabytes>100</megabytes>"),
        availablePlans=RawXml("<planName>BaseMail</planName>"),
        createAddressLists=True,
    ),
)
scenario(
    "CreateOrganizationAddressLists with mail users",
    _mailbox,
    he("CreateOrganizationAddressLists", path=org_path("WH", "alpineskihouse")),
)


def _public_store(d: Deployment) -> None:
    make_alpineskihouse(d)
    public = RawXml("<publicStore><serverName>EXPF01</serverName><megabytes>500</megabytes></publicStore>")
    ok(d.submit(rm("AddExchangeResources", publicStores=public)))


def _public_folder(d: Deployment) -> None:
    _public_store(d)
    ok(d.submit(he("CreatePublicFolder", path=org_path("WH", "alpineskihouse"), megabytes=100)))


scenario(
    "CreatePublicFolder",
    _public_store,
    he("CreatePublicFolder", path=org_path("WH", "alpineskihouse"), megabytes=100),
)
scenario(
    "DeletePublicFolder", _public_folder, he("DeletePublicFolder", path=org_path("WH", "alpineskihouse"))
)


def _list(d: Deployment) -> None:
    _mailbox(d)
    alpine = org_path("WH", "alpineskihouse")
    ok(d.submit(he("CreateDistributionList", container=alpine, name="Sales")))


scenario(
    "CreateContact",
    _exchange,
    he(
        "CreateContact",
        container=org_path("WH", "alpineskihouse"),
        name="Partner",
        targetAddress="p@x.example",
    ),
)
scenario(
    "CreateDistributionList",
    _mailbox,
    he(
        "CreateDistributionList",
        container=org_path("WH", "alpineskihouse"),
        name="Sales",
        managedBy="admin@alpineskihouse.com",
    ),
)
scenario(
    "AddDistributionListMember",
    _list,
    he(
        "AddDistributionListMember",
        path="LDAP://CN=Sales," + org_path("WH", "alpineskihouse")[7:],
        member=ADMIN,
    ),
)


def _consumer_store(d: Deployment) -> None:
    make_alpineskihouse(d, exchange=True)
    ok(d.submit(rm("AddExchangeResources", consumerMailStores=mail_stores(("EXC01", "C1", 100, True)))))


def _consumer(d: Deployment) -> None:
    _consumer_store(d)
    ok(d.submit(CONSUMER_REQUEST))


def _vanity(d: Deployment) -> None:
    _consumer(d)
    ok(d.submit(he("CreateConsumerVanityDomain", path=CONSUMER, name="me", SMTPDomain="zed.example")))


CONSUMER = "LDAP://CN=zed@alpineskihouse.com," + org_path("WH", "alpineskihouse")[7:]
CONSUMER_REQUEST = he(
    "CreateConsumerUser",
    container=org_path("WH", "alpineskihouse"),
    userPrincipalName="zed@alpineskihouse.com",
    sAMAccountName="c_zed",
    planName="ConsumerMail",
)
scenario("CreateConsumerUser with a mailbox", _consumer_store, CONSUMER_REQUEST)
scenario(
    "CreateConsumerVanityDomain",
    _consumer,
    he("CreateConsumerVanityDomain", path=CONSUMER, name="me", SMTPDomain="zed.example"),
)
scenario("DeleteConsumerUser", _vanity, he("DeleteConsumerUser", path=CONSUMER, deleteSMTPDomain=True))


def ocs(procedure: str, /, **args: object) -> str:
    return request_xml("Managed Office Communications Server", procedure, **args)


def _ocs_ready(d: Deployment) -> None:
    _user(d)
    ok(d.submit(ocs("Initialize")))
    ok(d.submit(ocs("AddSharedPool", poolFQDN="pool1.fabrikam.com")))
    ok(
        d.submit(
            ocs(
                "CreateSipDomain", organization=org_path("WH", "alpineskihouse"), address="alpineskihouse.com"
            )
        )
    )


def _sip_user(d: Deployment) -> None:
    _ocs_ready(d)
    ok(d.submit(ocs("CreateSipUser", user=BOB, enabled=True, primaryURI="sip:bob@alpineskihouse.com")))


BOB = "LDAP://CN=bob@alpineskihouse.com," + org_path("WH", "alpineskihouse")[7:]
scenario("Initialize", _nothing, ocs("Initialize"))
scenario("AddSharedPool", _nothing, ocs("AddSharedPool", poolFQDN="pool1.fabrikam.com"))
scenario(
    "CreateSipDomain",
    make_alpineskihouse,
    ocs("CreateSipDomain", organization=org_path("WH", "alpineskihouse"), address="alpineskihouse.com"),
)
scenario(
    "CreateSipUser",
    _ocs_ready,
    ocs(
        "CreateSipUser",
        user=BOB,
        enabled=True,
        primaryURI="sip:bob@alpineskihouse.com",
        enabledForFederation=True,
    ),
)
scenario(
    "SetSipUserProperties",
    _sip_user,
    ocs("SetSipUserProperties", user=BOB, primaryURI="sip:rob@alpineskihouse.com"),
)
scenario("DeleteSipUser", _sip_user, ocs("DeleteSipUser", user=BOB))


def hocs(procedure: str, /, **args: object) -> str:
    return request_xml("Hosted Office Communications Server", procedure, **args)


def _im_plans(d: Deployment) -> None:
    _ocs_ready(d)
    ims = RawXml("<planName>BasicIM</planName><planName>FederatedIM</planName>")
    ok(d.submit(he("AddAvailablePlans", path=org_path("WH", "alpineskihouse"), availablePlans=ims)))


def _im_user(d: Deployment) -> None:
    _im_plans(d)
    ok(d.submit(hocs("CreateSipUser", user=BOB, planName="BasicIM", primaryURI="sip:bob@alpineskihouse.com")))


scenario(
    "Hosted CreateSipUser",
    _im_plans,
    hocs("CreateSipUser", user=BOB, planName="FederatedIM", primaryURI="sip:bob@alpineskihouse.com"),
)
scenario(
    "ChangeUserPlanAssignment", _im_user, hocs("ChangeUserPlanAssignment", user=BOB, planName="FederatedIM")
)
scenario("Hosted DeleteSipUser", _im_user, hocs("DeleteSipUser", user=BOB))


def _bare_ou(d: Deployment) -> None:
    _reseller(d)
    with d.transaction() as providers:
        dn = DN.from_path(org_path("WH", "imported"))
        attrs = {
            "objectClass": ["top", "organizationalUnit"],
            "ou": ["imported"],
            "uPNSuffixes": ["imported.example"],
        }
        providers.directory.add(dn, attrs)


def _damaged(d: Deployment) -> None:
    make_alpineskihouse(d)
    with d.transaction() as providers:
        private = DN.from_path(org_path("WH", "alpineskihouse")).child("CN", "_Private")
        for entry in reversed(providers.directory.search(private, Scope.SUBTREE)):
            providers.directory.delete(entry.dn)


scenario(
    "ImportOrganization",
    _bare_ou,
    request_xml("MPS Import", "ImportOrganization", path=org_path("WH", "imported")),
)
scenario(
    "EnableOrganizationForHosting repairs _Private",
    _damaged,
    request_xml("MPS Import", "EnableOrganizationForHosting", path=org_path("WH", "alpineskihouse")),
)


def _migrated(d: Deployment) -> None:
    make_alpineskihouse(d, exchange=True)
    store = (
        "CN=BusinessMailStore1,CN=First Storage Group,CN=InformationStore,CN=EXBE01,CN=Servers,"
        "CN=First Administrative Group,CN=Administrative Groups,CN=fabrikam,CN=Microsoft Exchange,CN=Services,"
        "CN=Configuration,DC=fabrikam,DC=com"
    )
    with d.transaction() as providers:
        dn = DN.from_path(org_path("WH", "alpineskihouse")).child("CN", "Bob Migrated")
        providers.directory.add(
            dn,
            {
                "objectClass": ["top", "user"],
                "cn": ["Bob Migrated"],
                "userPrincipalName": ["bob@alpineskihouse.com"],
                "homeMDB": [store],
                "mDBOverQuotaLimit": ["60000"],
            },
        )


scenario(
    "ImportUser with a mailbox",
    _migrated,
    request_xml(
        "MPS Import",
        "ImportUser",
        path="LDAP://CN=Bob Migrated," + org_path("WH", "alpineskihouse")[7:],
        isAdmin=True,
        planName="GoldMail",
    ),
)
# Several executes in one request: the second one's failure must undo the first one too.
scenario(
    "org and users in one request",
    _reseller,
    "<request><procedure>"
    + "".join(
        he(p, **a)[len("<request><procedure>") : -len("</procedure></request>")]
        for p, a in (
            (
                "CreateBusinessOrganization",
                {"container": org_path("WH"), "name": "contoso", "SMTPDomain": "contoso.com"},
            ),
            (
                "CreateBusinessUser",
                {
                    "container": org_path("WH", "contoso"),
                    "userPrincipalName": "a@contoso.com",
                    "isAdmin": True,
                },
            ),
            (
                "CreateBusinessUser",
                {
                    "container": org_path("WH", "contoso"),
                    "userPrincipalName": "b@contoso.com",
                    "isAdmin": False,
                },
            ),
        )
    )
    + "</procedure></request>",
)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_failure_after_every_write_leaves_no_trace(tmp_path: Any, deployment: Deployment, name: str) -> None:
    setup, requests = SCENARIOS[name]
    setup(deployment)
    home = tmp_path / "home"
    before = snapshot(deployment)
    n = 1
    while True:
        counter = [0]
        faulty = open_deployment(
            home,
            passwords=fast_passwords(),
            directory_wrapper=lambda inner, n=n, c=counter: FailAfter(inner, n, c),
        )
        caller = faulty.administrator()
        outcome = faulty.submit("".join(requests), caller)
        if outcome.error is None:
            break
        assert outcome.error.hex_code == "0x80004005", outcome.error
        assert "injected failure" in outcome.error.description
        assert snapshot(faulty) == before, f"write {n} of {name} left a trace"
        n += 1
    assert n > 1, "the scenario made no directory write"
    assert snapshot(deployment) != before
