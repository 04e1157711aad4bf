"""Where an organization's top-level public folders are and who may use them (reference §2.9):
``publicFolder`` entries in ``CN=Public Folders,CN=_Private,<org>``, with a DACL for the
organization's own groups only, as MPS sets explicit permissions with Everyone removed so other
tenants never see them.  Hosted Exchange creates them; Hosted Email 2007 Import adopts migrated ones."""

from __future__ import annotations

from openmps.delegation.session import Org, Providers
from openmps.directory import acl
from openmps.directory.acl import Ace, Dacl, Right
from openmps.types import DN

MEMBERS = Right.DS_READ_PROP | Right.DS_WRITE_PROP | Right.DS_CREATE_CHILD | Right.ACTRL_DS_LIST
OWNERS = MEMBERS | Right.DS_DELETE_CHILD | Right.DELETE | Right.READ_CONTROL | Right.WRITE_DAC


def folders_container(org: Org) -> DN:
    return org.names.private.child("CN", "Public Folders")


def folder_sddl(providers: Providers, org: Org) -> str:
    """A folder's DACL: AllUsers@<Org> use it, Admins@<Org> own it, no one else."""
    names = org.names
    all_users, admins = (providers.directory.get(g).sid for g in (names.all_users, names.admins))
    return acl.to_sddl(Dacl((Ace.grant(all_users, MEMBERS), Ace.grant(admins, OWNERS))))
