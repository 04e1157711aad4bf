"""An organization's top-level public folders (reference §2.9): storage from a public store.

A folder is a ``publicFolder`` entry (hosting/public_folders.py): its public store (``homeMDB``),
its quota (``mDBStorageQuota``, KB) and a DACL for the organization's own groups only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from openmps.delegation.layout import OrgType
from openmps.delegation.session import Org, Providers
from openmps.directory import filters
from openmps.directory.interface import Entry, Scope
from openmps.directory.service import SECURITY_DESCRIPTOR
from openmps.engine.context import ProcedureContext, args
from openmps.engine.declaration import Role, Xml, procedure
from openmps.errors import AlreadyExists, InvalidArgument, NotFound
from openmps.hosting import exchange
from openmps.hosting.arguments import PreferredDC
from openmps.hosting.attributes import check_name
from openmps.hosting.organizations import organization_at
from openmps.hosting.public_folders import folder_sddl, folders_container
from openmps.namespaces.hosted_exchange.common import NAMESPACE
from openmps.resources.interface import KB_PER_MB
from openmps.resources.requests import PlacedPublicFolder
from openmps.types import DN

Ctx = ProcedureContext[Providers]
RESOURCE_MANAGER = "Exchange Resource Manager"


@dataclass(frozen=True)
class PublicFolder:
    """An organization's public folder: the public store it is on and its size."""

    XML_ELEMENT: ClassVar[str] = "publicFolder"
    name: Annotated[str, Xml("@name")]
    path: Annotated[DN, Xml("@path")]
    storage: Annotated[PlacedPublicFolder, Xml(".", "its public store and size")]


@dataclass(frozen=True)
class PublicFolders:
    """An organization's public folders, by name."""

    folders: Annotated[tuple[PublicFolder, ...], Xml("publicFolders", item="publicFolder")]


def create_public_folder(
    ctx: Ctx, org: Org, name: str, megabytes: int, server: str | None = None
) -> PublicFolder:
    providers = ctx.providers
    directory = providers.directory
    container = folders_container(org)
    dn = container.child("CN", check_name(name, "name"))
    if directory.exists(dn):
        raise AlreadyExists(f"the public folder '{name}' of {org.dn.ldap_path} already exists", dn=str(dn))
    placed = ctx.call(
        RESOURCE_MANAGER,
        "AllocatePublicFolder",
        args(organization=org.dn, megabytes=megabytes, serverName=server),
        returns=PlacedPublicFolder,
        as_service=True,
    )
    directory.ensure_containers(container, below=org.dn)
    directory.add(
        dn,
        {
            "objectClass": ["top", "publicFolder"],
            "cn": [name],
            "displayName": [name],
            "folderPathname": [f"\\{name}"],
            "homeMDB": [str(exchange.home_mdb(providers.layout, placed.server, placed.name))],
            "mDBStorageQuota": [str(megabytes * KB_PER_MB)],
            SECURITY_DESCRIPTOR: [folder_sddl(providers, org)],
        },
    )
    guid = org.entry.guid
    providers.plans.log_event(guid, guid, "PF", f"public folder {name} ({megabytes} MB on {placed.name})")
    return PublicFolder(name, dn, placed)


def _folder(entry: Entry) -> PublicFolder:
    store = DN.parse(entry.first("homeMDB") or "")
    megabytes = int(entry.first("mDBStorageQuota") or 0) // KB_PER_MB
    server = store.parent.parent.parent.rdn_value
    return PublicFolder(entry.dn.rdn_value, entry.dn, PlacedPublicFolder(server, store.rdn_value, megabytes))


@procedure(NAMESPACE, "CreatePublicFolder", requires=Role.ORG_CREATOR, scope="path", right="DS_CREATE_CHILD")
class CreatePublicFolder:
    """Create an organization's top-level public folder, with storage on one public store."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    megabytes: Annotated[int, Xml("megabytes", "the folder's storage")]
    preferred_dc: PreferredDC = None
    smtp_domain: Annotated[
        str | None, Xml("SMTPDomain", "a domain of the org (MPS compatibility; folders are not mail-enabled)")
    ] = None
    name: Annotated[str | None, Xml("name", "folder name; default: the organization's name")] = None
    server: Annotated[str | None, Xml("serverName", "put it on this server's public store")] = None

    def run(self, ctx: Ctx) -> PublicFolder:
        org = organization_at(ctx.providers, self.path, OrgType.CUSTOMER)
        if self.smtp_domain is not None:
            _, domains = exchange.org_domains(ctx.providers, org)
            if self.smtp_domain.strip().lower() not in domains:
                message = f"'SMTPDomain': '{self.smtp_domain[:80]}' is not a domain of {org.dn.ldap_path}"
                raise InvalidArgument(message, argument="SMTPDomain")
        name = self.name if self.name is not None else org.dn.rdn_value
        return create_public_folder(ctx, org, name, self.megabytes, self.server)


@procedure(NAMESPACE, "DeletePublicFolder", requires=Role.ORG_CREATOR, scope="path", right="DS_DELETE_CHILD")
class DeletePublicFolder:
    """Delete an organization's public folder and return its storage."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    preferred_dc: PreferredDC = None
    name: Annotated[str | None, Xml("name", "folder name; default: the organization's name")] = None

    def run(self, ctx: Ctx) -> None:
        providers = ctx.providers
        org = organization_at(providers, self.path, OrgType.CUSTOMER)
        name = self.name if self.name is not None else org.dn.rdn_value
        dn = folders_container(org).child("CN", check_name(name, "name"))
        entry = providers.directory.find(dn)
        if entry is None:
            raise NotFound(f"{org.dn.ldap_path} has no public folder '{name}'", dn=str(dn))
        folder = _folder(entry)
        release = args(
            organization=org.dn, publicStoreName=folder.storage.name, megabytes=folder.storage.megabytes
        )
        ctx.call(RESOURCE_MANAGER, "DeallocatePublicFolder", release, as_service=True)
        providers.directory.delete(dn)
        guid = org.entry.guid
        providers.plans.log_event(guid, guid, "FD", f"public folder {name}")


@procedure(
    NAMESPACE, "GetPublicFolders", requires=Role.USER, scope="path", kind="read", right="ACTRL_DS_LIST"
)
class GetPublicFolders:
    """An organization's public folders, their stores and sizes."""

    path: Annotated[DN, Xml("path", "LDAP path of the business organization")]
    preferred_dc: PreferredDC = None

    def run(self, ctx: Ctx) -> PublicFolders:
        org = organization_at(ctx.providers, self.path, OrgType.CUSTOMER)
        container = folders_container(org)
        if not ctx.providers.directory.exists(container):
            return PublicFolders(())
        found = ctx.providers.directory.search(
            container, Scope.ONELEVEL, filters.eq("objectClass", "publicFolder")
        )
        return PublicFolders(
            tuple(_folder(e) for e in sorted(found, key=lambda e: e.dn.rdn_value.casefold()))
        )


PROCEDURES = (CreatePublicFolder, DeletePublicFolder, GetPublicFolders)
