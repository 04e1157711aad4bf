"""Users, groups and contacts of a business organization, as directory objects (reference §5.3).

What Managed Active Directory makes here is the directory part only: Hosted Exchange's procedures
call these through the engine and add the mailbox, the plans record and the addresses.

* CreateUser: ``CN=<UPN>`` on one of the organization's UPN suffixes, sAMAccountName by the MPS
  algorithm unless given, a member of ``AllUsers@<Org>`` (MPS's "customer user" policy), disabled
  until it has a password.  The hash is made in ``prepare()``, before the write lock; a caller
  that hashed already (CreateBusinessUser) hands a :class:`HashedSecret` on, not hashed twice.
* DeleteUser: only a user no service holds: no mailbox allocated, no live customer record of the
  plans database (Hosted Exchange's Delete*User release those first, then call it).
* CreateGroup / DeleteGroup: security groups (sAMAccountName from the CN); the organization's
  own groups (its role groups, ``_Private``'s) are never deleted here.
* CreateContact / DeleteContact: directory contacts (Hosted Exchange's mail contacts are contacts
  with addresses).
"""

from __future__ import annotations

from typing import Annotated

from openmps.delegation.layout import OrgType
from openmps.delegation.passwords import HashedSecret
from openmps.delegation.session import Providers
from openmps.engine.declaration import Properties, Role, Xml, procedure
from openmps.errors import InvalidOperation
from openmps.hosting import multigroup
from openmps.hosting.accounts import (
    CreatedAccount,
    CreatedContact,
    add_user,
    checked_sam,
    user_attributes,
    user_dn,
)
from openmps.hosting.arguments import (
    Description,
    DisplayName,
    GivenName,
    Initials,
    MiddleName,
    PreferredDC,
    Surname,
)
from openmps.hosting.attributes import COMMON_ATTRIBUTES, USER_ATTRIBUTES, check_name, property_attributes
from openmps.hosting.organizations import business_user, org_entry, organization_at
from openmps.hosting.render import MemberOf
from openmps.namespaces.managed_ad.common import NAMESPACE, Ctx
from openmps.types import DN, Secret, Upn

GLOBAL_SECURITY = "-2147483646"  # groupType: global, security enabled
GROUP_CLASSES = ("top", "group")
CONTACT_CLASSES = ("top", "person", "organizationalPerson", "contact")
DELETED = "Deleted"


@procedure(NAMESPACE, "CreateUser", requires=Role.USER_CREATOR, scope="container", right="DS_CREATE_CHILD")
class CreateUser:
    """Create a user of a business organization: a member of AllUsers@<Org>, enabled only with a
    password."""

    container: Annotated[DN, Xml("container", "LDAP path of the organization OU")]
    user_principal_name: Annotated[Upn, Xml("userPrincipalName", "user@<a domain of the organization>")]
    preferred_dc: PreferredDC = None
    sam_account_name: Annotated[str | None, Xml("sAMAccountName", "default: generated from the UPN")] = None
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
    _password_hash: str | None = None

    def prepare(self, providers: Providers) -> None:
        """Check and hash the password before the store is touched: hashing is the costly part."""
        if self.new_password is not None:
            names = (self.user_principal_name.local, self.sam_account_name or "")
            providers.passwords.check_policy(self.new_password, account_names=names)
            if isinstance(self.new_password, HashedSecret):
                self._password_hash = self.new_password.hashed
            else:
                self._password_hash = providers.passwords.hash(self.new_password)

    def run(self, ctx: Ctx) -> CreatedAccount:
        providers = ctx.providers
        org = organization_at(providers, self.container, OrgType.CUSTOMER)
        sam = checked_sam(self.sam_account_name) if self.sam_account_name is not None else None
        names = {
            "displayName": self.display_name,
            "givenName": self.given_name,
            "middleName": self.middle_name,
            "sn": self.sn,
            "initials": self.initials,
            "description": self.description,
        }
        upn = self.user_principal_name
        dn = user_dn(org, self.container, upn)
        attrs = user_attributes(str(upn), names, self.properties, self._password_hash)
        created = add_user(providers, dn, upn, attrs, sam, self.new_password)
        joined = multigroup.join(providers, org, created.dn)  # AllUsers@, or one of its sub-groups
        return CreatedAccount(created.dn, created.dn.rdn_value, created.guid, (MemberOf(joined),))


@procedure(NAMESPACE, "DeleteUser", requires=Role.USER_CREATOR, scope="path", right="DELETE")
class DeleteUser:
    """Delete a user of a business organization that no service holds: it leaves every group.
    A user with a mailbox or a plans record is deleted through Hosted Exchange."""

    path: Annotated[DN, Xml("path", "LDAP path of the user")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        _, entry = business_user(providers, self.path, ())
        if providers.resources.mailbox(entry.guid) is not None:
            raise InvalidOperation(
                f"{self.path.ldap_path} has a mailbox; delete it with Hosted Exchange", dn=str(self.path)
            )
        record = providers.plans.customer(entry.guid)
        if record is not None and record.status != DELETED:
            raise InvalidOperation(
                f"{self.path.ldap_path} is a {record.customer_type} of the plans database; "
                "delete it with Hosted Exchange",
                dn=str(self.path),
            )
        providers.directory.delete(self.path)


@procedure(NAMESPACE, "CreateGroup", requires=Role.USER_CREATOR, scope="container", right="DS_CREATE_CHILD")
class CreateGroup:
    """Create a security group in a business organization (sAMAccountName from its name)."""

    container: Annotated[DN, Xml("container", "LDAP path of the organization OU")]
    name: Annotated[str, Xml("name", "the group's name (its CN)")]
    preferred_dc: PreferredDC = None
    description: Description = None
    properties: Annotated[Properties, Xml("properties", "group attributes")] = ()

    def run(self, ctx: Ctx) -> CreatedAccount:
        providers = ctx.providers
        organization_at(providers, self.container, OrgType.CUSTOMER)
        dn = self.container.child("CN", check_name(self.name, "name"))
        attrs = property_attributes(self.properties, COMMON_ATTRIBUTES, "group")
        if self.description is not None:
            attrs["description"] = [self.description]
        attrs.update(objectClass=list(GROUP_CLASSES), cn=[self.name], groupType=[GLOBAL_SECURITY])
        created = providers.directory.add_account(dn, attrs, self.name)
        return CreatedAccount(dn, dn.rdn_value, created.guid)


@procedure(NAMESPACE, "DeleteGroup", requires=Role.USER_CREATOR, scope="path", right="DELETE")
class DeleteGroup:
    """Delete a group of a business organization (never one of the organization's own groups)."""

    path: Annotated[DN, Xml("path", "LDAP path of the group")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        org, _ = org_entry(ctx.providers, self.path, "group", attributes=())
        names = org.names
        if self.path in (names.admins, names.csr_admins, names.all_users) or self.path.is_within(
            names.private
        ):
            raise InvalidOperation(
                f"{self.path.ldap_path} is one of the organization's own groups", dn=str(self.path)
            )
        ctx.providers.directory.delete(self.path)


@procedure(NAMESPACE, "CreateContact", requires=Role.USER_CREATOR, scope="container", right="DS_CREATE_CHILD")
class CreateContact:
    """Create a contact in a business organization (no addresses: see Hosted Exchange's CreateContact)."""

    container: Annotated[DN, Xml("container", "LDAP path of the organization OU")]
    name: Annotated[str, Xml("name", "the contact's name (its CN)")]
    preferred_dc: PreferredDC = None
    display_name: DisplayName = None
    description: Description = None
    properties: Annotated[Properties, Xml("properties", "contact attributes")] = ()

    def run(self, ctx: Ctx) -> CreatedContact:
        providers = ctx.providers
        organization_at(providers, self.container, OrgType.CUSTOMER)
        dn = self.container.child("CN", check_name(self.name, "name"))
        attrs = property_attributes(self.properties, USER_ATTRIBUTES, "contact")
        if self.description is not None:
            attrs["description"] = [self.description]
        attrs.update(
            objectClass=list(CONTACT_CLASSES),
            cn=[self.name],
            displayName=[check_name(self.display_name or self.name, "displayName")],
        )
        providers.directory.add(dn, attrs)
        return CreatedContact(dn, dn.rdn_value)


@procedure(NAMESPACE, "DeleteContact", requires=Role.USER_CREATOR, scope="path", right="DELETE")
class DeleteContact:
    """Delete a contact of a business organization: it leaves every group and list."""

    path: Annotated[DN, Xml("path", "LDAP path of the contact")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> None:
        org_entry(ctx.providers, self.path, "contact", attributes=())
        ctx.providers.directory.delete(self.path)


PROCEDURES = (CreateUser, DeleteUser, CreateGroup, DeleteGroup, CreateContact, DeleteContact)
