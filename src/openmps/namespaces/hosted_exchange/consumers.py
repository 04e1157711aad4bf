"""Consumer users (reference §2.10): one person each, a mailbox on a consumer store, no org pool.

A consumer lives in a business organization's OU but is not one of its users: it is not in
AllUsers@<Org>, its recipient sees only itself (msExchQueryBaseDN is the user) and no address
list shows it.  Its sAMAccountName is given, not generated.  A vanity domain makes its primary
address ``<name>@<domain>``; the domain is an asset of the consumer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.session import Providers
from openmps.directory.interface import Change, Entry
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import InvalidArgument, InvalidOperation
from openmps.hosting import exchange
from openmps.hosting.accounts import checked_sam
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.domain_claims import claim_domain
from openmps.hosting.mailboxes import CONSUMER_USER
from openmps.hosting.organizations import business_user
from openmps.namespaces.hosted_exchange.common import MANAGED_AD, NAMESPACE
from openmps.namespaces.hosted_exchange.domains import record_domain
from openmps.namespaces.hosted_exchange.mailboxes import remove_mailbox
from openmps.namespaces.hosted_exchange.results import CreatedUser, UserRef
from openmps.namespaces.hosted_exchange.users import NewUser
from openmps.plans.interface import VANITY
from openmps.types import DN, Upn

Ctx = ProcedureContext[Providers]


def consumer_at(providers: Providers, path: DN) -> Entry:
    _, entry = business_user(providers, path)
    record = providers.plans.customer(entry.guid)
    if record is None or record.customer_type != CONSUMER_USER:
        raise InvalidArgument(f"{path.ldap_path} is not a consumer user", dn=str(path))
    return entry


@procedure(
    NAMESPACE, "CreateConsumerUser", requires=Role.USER_CREATOR, scope="container", right="DS_CREATE_CHILD"
)
class CreateConsumerUser(NewUser):
    """Create a consumer user; with planName, its mailbox on a consumer store."""

    sam_account_name: Annotated[str, Xml("sAMAccountName", "required, at most 20 characters, unique")]
    CUSTOMER_TYPE = CONSUMER_USER

    def run(self, ctx: Ctx) -> CreatedUser:
        _, dn = self._create(ctx, checked_sam(self.sam_account_name))
        return CreatedUser(self._mailbox(ctx, dn, {}), UserRef(dn, dn.rdn_value))


@procedure(NAMESPACE, "DeleteConsumerUser", requires=Role.USER_CREATOR, scope="path", right="DELETE")
class DeleteConsumerUser:
    """Delete a consumer user and its mailbox; with deleteSMTPDomain, its vanity domains too."""

    path: Annotated[DN, Xml("path", "LDAP path of the consumer user")]
    preferred_dc: PreferredDC = None
    delete_smtp_domain: Annotated[bool, Xml("deleteSMTPDomain", "also give up its vanity domains")] = False

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        entry = consumer_at(providers, self.path)
        org = providers.org_chain(self.path)[0]
        if providers.resources.mailbox(entry.guid) is not None:
            remove_mailbox(ctx, org, entry)
        domains = providers.plans.domains(entry.guid)
        if domains and not self.delete_smtp_domain:
            raise InvalidOperation(
                f"{self.path.ldap_path} holds the vanity domain '{domains[0].domain}': say deleteSMTPDomain",
                domain=domains[0].domain,
            )
        for domain in domains:
            providers.plans.remove_domain(domain.domain)
            providers.plans.log_event(
                entry.guid, org.entry.guid, "AD", f"{domain.domain_type} {domain.domain}"
            )
        providers.plans.set_status(entry.guid, "Deleted")
        # the directory part is Managed Active Directory's; the caller's role and DELETE were checked
        ctx.call(MANAGED_AD, "DeleteUser", args(path=self.path), as_service=True)


@dataclass(frozen=True)
class ProxyAddresses:
    """A recipient's SMTP addresses, the primary one first."""

    addresses: Annotated[tuple[str, ...], Xml("proxyAddresses", item="value")]


@procedure(
    NAMESPACE, "CreateConsumerVanityDomain", requires=Role.ORG_CREATOR, scope="path", right="DS_WRITE_PROP"
)
class CreateConsumerVanityDomain:
    """Give a consumer a domain of its own: ``<name>@<SMTPDomain>`` becomes its primary address.

    The domain is new to the deployment, so this needs the role that adding any domain needs
    (CreateSMTPDomain's OrgCreator), not the UserCreator MPS documents: otherwise a customer's
    administrator could claim any unused name for everyone (issue 18).
    """

    path: Annotated[DN, Xml("path", "LDAP path of the consumer user")]
    name: Annotated[str, Xml("name", "the local part of the new primary address")]
    smtp_domain: Annotated[str, Xml("SMTPDomain", "the vanity domain")]
    preferred_dc: PreferredDC = None
    create_smtp_domain: Annotated[bool, Xml("createSMTPDomain", "also create the recipient policy")] = False

    def run(self, ctx: Ctx) -> ProxyAddresses:
        providers = ctx.providers
        entry = consumer_at(providers, self.path)
        if not entry.get("proxyAddresses"):
            raise InvalidOperation(
                f"{self.path.ldap_path} has no mailbox; CreateMailbox first", dn=str(self.path)
            )
        org = providers.org_chain(self.path)[0]
        domain = claim_domain(ctx, self.smtp_domain, org=org.dn, owner=entry.guid, checked=True)
        address = exchange.smtp_address(f"{self.name}@{domain}", "name")
        record_domain(providers, entry.guid, domain, VANITY, self.create_smtp_domain)
        others = [v.split(":", 1)[1] for v in entry.get("proxyAddresses")]
        addresses = [str(address), *(a for a in others if Upn.parse(a).norm != address.norm)]
        providers.directory.modify(
            self.path,
            [
                Change.replace("proxyAddresses", *exchange.proxy_values(addresses)),
                Change.replace("mail", str(address)),
            ],
        )
        return ProxyAddresses(tuple(addresses))


PROCEDURES = (CreateConsumerUser, DeleteConsumerUser, CreateConsumerVanityDomain)
