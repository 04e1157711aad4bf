"""Hosted Exchange's users, mailboxes and domains through the Python door: typed results, no XML."""

from __future__ import annotations

from openmps.app import Deployment
from openmps.engine.context import args
from openmps.namespaces.hosted_exchange.domains import DomainRef, SmtpDomains
from openmps.namespaces.hosted_exchange.results import CreatedUser, StampedMailbox
from openmps.namespaces.hosted_exchange.users import BusinessUser
from openmps.resources.requests import PlacedMailbox
from openmps.types import DN
from support import make_alpineskihouse, org_path

HE = "Hosted Exchange"
ALPINE = DN.from_path(org_path("WH", "alpineskihouse"))


def test_a_user_with_a_mailbox_answers_typed_values(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    admin = deployment.administrator()
    created = deployment.engine.call(
        HE,
        "CreateBusinessUser",
        args(container=ALPINE, userPrincipalName="amy@alpineskihouse.com", isAdmin=True, planName="BaseMail"),
        caller=admin,
        returns=CreatedUser,
    )
    amy = ALPINE.child("CN", "amy@alpineskihouse.com")
    assert created.user.path == amy
    assert [g.group.rdn_value for g in created.user.member_of] == [
        "AllUsers@alpineskihouse",
        "Admins@alpineskihouse",
    ]
    assert created.mailbox is not None
    assert created.mailbox.proxy_addresses == ("amy@alpineskihouse.com",)
    assert dict(created.mailbox.mail)["size"] == "10000"
    stamped = {p.name: p.values for p in created.mailbox.properties}
    assert stamped["mail"] == ("amy@alpineskihouse.com",)

    changed = deployment.engine.call(
        HE, "ChangeUserMailboxPlan", args(path=amy, planName="GoldMail"), caller=admin, returns=StampedMailbox
    )
    assert changed.store == PlacedMailbox("EXBE01", "BusinessMailStore1")
    assert changed.stamp.proxy_addresses is None
    assert dict(changed.stamp.mail)["size"] == "20000"

    user = deployment.engine.call(HE, "GetBusinessUser", args(path=amy), caller=admin, returns=BusinessUser)
    assert set(user.user.member_of) == set(created.user.member_of)
    assert user.user.properties is not None
    assert "userPassword" not in {p.name for p in user.user.properties}


def test_domains_answer_typed_values(deployment: Deployment) -> None:
    make_alpineskihouse(deployment, exchange=True)
    admin = deployment.administrator()
    added = deployment.engine.call(
        HE,
        "CreateSMTPDomain",
        args(path=ALPINE, SMTPDomain="alpine.example"),
        caller=admin,
        returns=DomainRef,
    )
    assert added == DomainRef("alpine.example", "SecondaryDomain")
    domains = deployment.engine.call(
        HE, "GetSMTPDomains", args(path=ALPINE), caller=admin, returns=SmtpDomains
    )
    assert set(domains.domains) == {added, DomainRef("alpineskihouse.com", "PrimaryDomain")}
