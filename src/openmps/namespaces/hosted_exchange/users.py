"""Hosted Exchange business users (seed 003)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from openmps.delegation.layout import OrgType
from openmps.delegation.passwords import HashedSecret
from openmps.delegation.session import Org, Providers
from openmps.directory import filters
from openmps.directory.interface import Change, Entry, Scope
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Properties, Role, Xml, procedure, verbatim
from openmps.errors import InvalidArgument, InvalidOperation
from openmps.hosting.accounts import CreatedAccount, add_user, user_attributes, user_dn
from openmps.hosting.arguments import (
    Description,
    DisplayName,
    GivenName,
    Initials,
    MiddleName,
    PreferredDC,
    Surname,
)
from openmps.hosting.exchange import MailboxStamp
from openmps.hosting.organizations import business_user, organization_at
from openmps.hosting.render import MemberOf
from openmps.namespaces.hosted_exchange.common import MANAGED_AD, NAMESPACE
from openmps.namespaces.hosted_exchange.results import (
    CreatedUser,
    StampedMailbox,
    UserRef,
    entry_properties,
)
from openmps.resources.requests import MailboxStore
from openmps.types import DN, Secret, Upn

Ctx = ProcedureContext[Providers]
CUSTOMER_TYPE = "BusinessUser"


class NewUser:
    """What creating a business or a consumer user shares: identity, password, names, a mailbox plan."""

    container: Annotated[DN, Xml("container", "LDAP path of the organization OU")]
    user_principal_name: Annotated[Upn, Xml("userPrincipalName", "user@<a domain of the organization>")]
    preferred_dc: PreferredDC = None
    new_password: Annotated[
        Secret | None, Xml("newPassword", "password, checked against the policy of docs/security.md")
    ] = None
    display_name: DisplayName = None
    given_name: GivenName = None
    middle_name: MiddleName = None
    sn: Surname = None
    initials: Initials = None
    description: Description = None
    properties: Annotated[Properties, Xml("properties", "user attributes")] = ()
    plan_name: Annotated[str | None, Xml("planName", "give the user a mailbox from this plan")] = None
    mail_store: Annotated[MailboxStore | None, Xml("mailStore", "with planName: where the mailbox goes")] = (
        None
    )
    _password_hash: str | None = None
    CUSTOMER_TYPE = CUSTOMER_TYPE

    def prepare(self, providers: Providers) -> None:
        """Check and hash the password before the store is touched: hashing is the costly part."""
        if self.new_password is not None:
            # sAMAccountName: optional for business users, required for consumers
            names = (self.user_principal_name.local, getattr(self, "sam_account_name", None) or "")
            providers.passwords.check_policy(self.new_password, account_names=names)
            self._password_hash = providers.passwords.hash(self.new_password)

    def _create(self, ctx: Ctx, sam: str | None) -> tuple[Org, DN]:
        """The user entry and its customer record; ``sam`` None: generated from the UPN."""
        providers = ctx.providers
        org = organization_at(providers, self.container, OrgType.CUSTOMER)
        dn = user_dn(org, self.container, self.user_principal_name)
        attrs = user_attributes(
            str(self.user_principal_name), self._names(), self.properties, self._password_hash
        )
        created = add_user(providers, dn, self.user_principal_name, attrs, sam, self.new_password)
        self._record(ctx, org, created.guid)
        return org, dn

    def _record(self, ctx: Ctx, org: Org, guid: str) -> None:
        name = str(self.user_principal_name)
        ctx.providers.plans.record_customer(
            guid, customer_type=self.CUSTOMER_TYPE, org=org.entry.guid, name=name
        )

    def _mailbox(self, ctx: Ctx, dn: DN, extra: Mapping[str, object]) -> MailboxStamp | None:
        """What CreateMailbox stamped, when a plan was asked for (None too when nothing reads it)."""
        arguments = {"mailStore": self.mail_store, **extra}
        if self.plan_name is None:
            given = [n for n, v in arguments.items() if v is not None]
            if given:
                raise InvalidArgument(f"'{given[0]}' needs 'planName'", argument=given[0])
            return None
        mailbox = args(planName=self.plan_name, path=dn, customerTypeName=self.CUSTOMER_TYPE, **arguments)
        # as the service: the caller's UserCreator role on the container covers the new user
        if not ctx.outputs_read:  # then CreateMailbox answers nothing either
            ctx.call(NAMESPACE, "CreateMailbox", mailbox, as_service=True, outputs_read=False)
            return None
        return ctx.call(NAMESPACE, "CreateMailbox", mailbox, returns=StampedMailbox, as_service=True).stamp

    def _names(self) -> dict[str, str | None]:
        return {
            "displayName": self.display_name,
            "givenName": self.given_name,
            "middleName": self.middle_name,
            "sn": self.sn,
            "initials": self.initials,
            "description": self.description,
        }


@procedure(
    NAMESPACE, "CreateBusinessUser", requires=Role.USER_CREATOR, scope="container", right="DS_CREATE_CHILD"
)
class CreateBusinessUser(NewUser):
    """Create a business user; optionally set its password, make it an admin of its organization and
    give it a mailbox from a plan."""

    is_admin: Annotated[bool, Xml("isAdmin", "true: member of Admins@<Org>")]
    sam_account_name: Annotated[str | None, Xml("sAMAccountName", "default: generated from the UPN")] = None
    proxy_addresses: Annotated[
        tuple[str, ...] | None,
        Xml(
            "proxyAddresses",
            "with planName: extra SMTP addresses; ignored without planName (as MPS documents)",
            item="value",
            parse=verbatim,
        ),
    ] = None
    alias: Annotated[str | None, Xml("alias", "with planName: mailNickname; default the UPN prefix")] = None

    def run(self, ctx: Ctx) -> CreatedUser | None:
        # the directory part is Managed Active Directory's, as the service: this procedure checked
        # the caller's UserCreator role and DS_CREATE_CHILD on the container, CreateUser's own
        password = self.new_password
        if password is not None and self._password_hash is not None:  # hashed in prepare()
            password = HashedSecret(password.reveal(), self._password_hash)
        user = args(
            container=self.container,
            userPrincipalName=self.user_principal_name,
            sAMAccountName=self.sam_account_name,
            newPassword=password,
            properties=self.properties,
            **{name: value for name, value in self._names().items() if value is not None},
        )
        created = ctx.call(MANAGED_AD, "CreateUser", user, returns=CreatedAccount, as_service=True)
        dn = created.path
        org = ctx.providers.org_chain(self.container)[0]
        self._record(ctx, org, created.guid)
        groups = [m.group for m in created.member_of] + ([org.names.admins] if self.is_admin else [])
        if self.is_admin:
            ctx.providers.directory.modify(org.names.admins, [Change.add("member", str(dn))])
        # MPS documents proxyAddresses as ignored without planName: no mailbox holds them
        proxies = self.proxy_addresses if self.plan_name is not None else None
        mailbox = self._mailbox(ctx, dn, {"proxyAddresses": proxies, "alias": self.alias})
        if not ctx.outputs_read:
            return None
        return CreatedUser(mailbox, UserRef(dn, dn.rdn_value, member_of=tuple(MemberOf(g) for g in groups)))


@procedure(NAMESPACE, "DeleteBusinessUser", requires=Role.USER_CREATOR, scope="path", right="DELETE")
class DeleteBusinessUser:
    """Delete a business user: it leaves every group, and its mailbox space returns to its org."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        _, entry = business_user(ctx.providers, self.path)
        record = ctx.providers.plans.customer(entry.guid)
        if record is not None and record.customer_type != CUSTOMER_TYPE:
            raise InvalidOperation(
                f"{self.path.ldap_path} is a {record.customer_type}; delete it as one", dn=str(self.path)
            )
        resources = ctx.providers.resources
        if resources.mailbox(entry.guid) is not None:
            resources.release_mailbox(entry.guid)  # its space goes back to the organization
        if record is not None:  # a soft delete: the record stays
            ctx.providers.plans.set_status(entry.guid, "Deleted")
        # the directory part is Managed Active Directory's; the caller's role and DELETE were checked
        ctx.call(MANAGED_AD, "DeleteUser", args(path=self.path), as_service=True)


@dataclass(frozen=True)
class BusinessUser:
    """A business user with its attributes and its groups."""

    user: Annotated[UserRef, Xml("user")]

    @classmethod
    def of(cls, entry: Entry) -> BusinessUser:
        member_of = tuple(MemberOf(DN.parse(g)) for g in entry.get("memberOf"))
        dn = entry.dn
        return cls(UserRef(dn, dn.rdn_value, entry_properties(entry, skip=("memberOf",)), member_of))


@dataclass(frozen=True)
class UserSummary:
    """One user of an organization, as GetBusinessUsers lists it."""

    path: Annotated[DN, Xml("@path", "LDAP path of the user")]
    name: Annotated[str, Xml("@name")]
    user_principal_name: Annotated[str | None, Xml("@userPrincipalName")] = None
    sam_account_name: Annotated[str | None, Xml("@sAMAccountName")] = None
    display_name: Annotated[str | None, Xml("@displayName")] = None


@dataclass(frozen=True)
class BusinessUsers:
    """The users of an organization."""

    users: Annotated[tuple[UserSummary, ...], Xml("users", item="user")]


@procedure(NAMESPACE, "GetBusinessUser", requires=Role.USER, scope="path", kind="read", right="DS_READ_PROP")
class GetBusinessUser:
    """A business user's attributes and group memberships (never its password)."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> BusinessUser:
        _, entry = business_user(ctx.providers, self.path)
        return BusinessUser.of(entry)


@procedure(
    NAMESPACE, "GetBusinessUsers", requires=Role.USER, scope="path", kind="read", right="ACTRL_DS_LIST"
)
class GetBusinessUsers:
    """The users of an organization: path, UPN, sAMAccountName and display name of each."""

    path: Annotated[DN, Xml("path", "LDAP path of the organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> BusinessUsers:
        org = organization_at(ctx.providers, self.path, OrgType.CUSTOMER)
        found = ctx.providers.directory.search(org.dn, Scope.SUBTREE, filters.eq("objectClass", "user"))
        return BusinessUsers(
            tuple(
                UserSummary(
                    e.dn,
                    e.dn.rdn_value,
                    e.first("userPrincipalName"),
                    e.first("sAMAccountName"),
                    e.first("displayName"),
                )
                for e in found
            )
        )


PROCEDURES = (CreateBusinessUser, DeleteBusinessUser, GetBusinessUser, GetBusinessUsers)
