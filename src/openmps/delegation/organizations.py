"""Building an organization's identity part: OU, _Private, MultiGroup, role groups, memberships, DACL.

The shape is seed 002's response (reference §5.3).  The same builder makes the hosting
organization at ``openmps init``, resellers and customers, so every organization is recognised by
the same role checks.  It returns a :class:`BuiltOrg` describing what it made, from which the
Hosted Exchange namespace renders the ``<org>`` response.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from openmps.delegation.layout import OrgNames, OrgType
from openmps.delegation.session import Org, Providers
from openmps.directory import acl, wellknown
from openmps.directory.acl import Ace, AceFlag, Dacl, Right
from openmps.directory.interface import Change
from openmps.directory.service import SECURITY_DESCRIPTOR, WELL_KNOWN, DirectoryService
from openmps.types import DN

GLOBAL_SECURITY_GROUP = "-2147483646"
INHERIT = AceFlag.CONTAINER_INHERIT | AceFlag.OBJECT_INHERIT
USER_CLASS = acl.CLASS_GUIDS["user"]

# The rights of an organization's admins and of its parent's CSRs over the organization (seed 002).
ADMIN_RIGHTS = (
    Right.DS_WRITE_PROP
    | Right.READ_CONTROL
    | Right.WRITE_DAC
    | Right.DS_SELF
    | Right.DS_CONTROL_ACCESS
    | Right.DS_CREATE_CHILD
    | Right.DS_DELETE_CHILD
    | Right.DS_DELETE_TREE
)
PARENT_CSR_RIGHTS = ADMIN_RIGHTS | Right.DELETE


@dataclass
class BuiltContainer:
    dn: DN
    well_known: list[tuple[str, DN]] = field(default_factory=list)
    children: list[BuiltContainer] = field(default_factory=list)
    groups: list[BuiltGroup] = field(default_factory=list)


@dataclass
class BuiltGroup:
    dn: DN
    sid: str
    member_of: list[DN] = field(default_factory=list)
    dacl: Dacl = field(default_factory=Dacl)


@dataclass
class BuiltOrg:
    root_guid: str
    root: BuiltContainer
    private: BuiltContainer
    groups: list[BuiltGroup]
    dacl: Dacl
    trustees: dict[str, DN]  # SID → group DN, to render ACEs with LDAP paths


def build_organization(
    providers: Providers,
    *,
    parent: Org | None,
    dn: DN,
    kind: OrgType,
    attributes: Mapping[str, Sequence[str]] = {},
    repair: bool = False,
) -> BuiltOrg:
    """Create the organization ``dn`` of type ``kind`` below ``parent`` (None for the hosting org).

    With ``repair``, ``dn`` is an existing OU and only what is missing or wrong is written:
    containers, groups, memberships, well-known pointers and DACLs (MPS Import's
    EnableOrganizationForHosting).  A second run writes nothing: creating and repairing are the
    same steps.
    """
    directory = providers.directory
    layout = providers.layout
    names = OrgNames(dn)
    trustees: dict[str, DN] = {}

    def container(at: DN, object_class: str, pointers: Sequence[tuple[str, DN]] = ()) -> None:
        if repair and directory.exists(at):
            ensure_pointers(directory, at, pointers)
            return
        rdn = "ou" if object_class == "organizationalUnit" else "cn"
        extra = {WELL_KNOWN: _encode(pointers)} if pointers else {}
        directory.add(at, {"objectClass": ["top", object_class], rdn: [at.rdn_value], **extra})

    def group(at: DN, member_of: Sequence[DN] = ()) -> BuiltGroup:
        found = directory.find(at) if repair else None
        if found is None:
            found = directory.add_account(
                at,
                {"objectClass": ["top", "group"], "cn": [at.rdn_value], "groupType": [GLOBAL_SECURITY_GROUP]},
                at.rdn_value,
                builtin=True,  # the role groups, <Role>@<Org>: names no tenant may take
            )
            held: set[DN] = set()
        else:
            held = set(directory.member_of(at))
        for outer in member_of:
            if outer not in held:
                directory.modify(outer, [Change.add("member", str(at))])
        trustees[found.sid] = at
        return BuiltGroup(at, found.sid, list(member_of))

    def security(at: DN, dacl: Dacl) -> None:
        sddl = acl.to_sddl(dacl)
        if not repair or directory.get(at).first(SECURITY_DESCRIPTOR) != sddl:
            directory.modify(at, [Change.replace(SECURITY_DESCRIPTOR, sddl)])

    wko_root = [
        ("ThisOrganizationRoot", dn),
        ("ForeignOwnerOrg", parent.dn if parent else layout.domain),
        ("UserCreators", names.admins),
        ("ChildOrgCreators", names.csr_admins),
        ("OrgType", layout.org_type(kind)),
        ("MultiGroupPointer", names.multi_group),
    ]
    wko_private = [("ThisOrganizationRoot", dn), ("OrgType", layout.org_type(OrgType.PRIVATE))]
    if repair:
        root_guid = directory.get(dn).guid
        ensure_pointers(directory, dn, wko_root)
    else:
        root_guid = directory.add(
            dn,
            {
                "objectClass": ["top", "organizationalUnit"],
                "ou": [dn.rdn_value],
                **attributes,
                WELL_KNOWN: _encode(wko_root),
            },
        ).guid
    container(names.private, "container", wko_private)
    container(names.multi_group, "container")
    container(names.user_n, "container")
    pointer_wko = [("MultiGroupPointer", names.all_users)]
    container(names.all_users_pointer, "container", pointer_wko)
    container(names.child_org_n, "container")

    parent_names = parent.names if parent else None
    below = parent is not None and parent.kind is not OrgType.HOSTING
    all_users = group(names.all_users, [parent_names.all_customers] if below and parent_names else [])
    admins = group(names.admins, [parent_names.all_customer_admins] if below and parent_names else [])
    csr_admins = group(
        names.csr_admins, [parent_names.all_customer_csr_admins] if below and parent_names else []
    )
    csr_admins.dacl = Dacl((Ace.grant(acl.SELF, Right.READ_CONTROL),))
    security(names.csr_admins, csr_admins.dacl)
    private_groups = [all_users]
    if kind in (OrgType.HOSTING, OrgType.RESELLER):
        private_groups += [
            group(names.all_customers),
            group(names.all_customer_admins),
            group(names.all_customer_csr_admins),
        ]

    parent_csr_sid = _sid(directory, parent_names.csr_admins) if parent_names else None
    if parent_csr_sid and parent_names:
        trustees[parent_csr_sid] = parent_names.csr_admins
    dacl = organization_dacl(kind, all_users.sid, admins.sid, csr_admins.sid, parent_csr_sid)
    security(dn, dacl)

    private = BuiltContainer(
        names.private,
        wko_private,
        [
            BuiltContainer(
                names.multi_group,
                children=[
                    BuiltContainer(
                        names.user_n, children=[BuiltContainer(names.all_users_pointer, pointer_wko)]
                    ),
                    BuiltContainer(names.child_org_n),
                ],
            )
        ],
        private_groups,
    )
    root = BuiltContainer(dn, wko_root, [private], [admins, csr_admins])
    providers.forget(dn)
    return BuiltOrg(root_guid, root, private, [admins, csr_admins], dacl, trustees)


def organization_dacl(
    kind: OrgType, all_users: str, admins: str, csr_admins: str, parent_csr_admins: str | None
) -> Dacl:
    """The DACL of an organization OU (seed 002 for customers).

    Users of an organization may list and read it; its admins manage it; the parent's CSRs manage
    the organizations below them; the organization's CSRs have full control of its user objects
    (inherit-only, user class).  A hosting or reseller organization's admins have full control
    below it and its CSRs read below it.  A reseller's or the hosting org's users read only one level down,
    so they see their customers' names but not inside them.
    """
    read_scope = INHERIT if kind is OrgType.CUSTOMER else INHERIT | AceFlag.NO_PROPAGATE_INHERIT
    aces = [
        Ace.grant(all_users, Right.DS_LIST_OBJECT),
        Ace.grant(all_users, Right.ACTRL_DS_LIST | Right.DS_READ_PROP, flags=read_scope),
        Ace.grant(admins, Right.READ_CONTROL, flags=INHERIT),
    ]
    if parent_csr_admins:
        aces.append(Ace.grant(parent_csr_admins, PARENT_CSR_RIGHTS, flags=INHERIT))
    if kind is OrgType.CUSTOMER:
        aces.append(Ace.grant(admins, ADMIN_RIGHTS, flags=INHERIT))
    else:
        # Hosting and reseller admins manage everything below; their CSRs read it.
        aces.append(Ace.grant(admins, Right.GENERIC_ALL, flags=INHERIT))
        aces.append(Ace.grant(csr_admins, Right.GENERIC_READ, flags=INHERIT))
    aces.append(
        Ace.grant(
            csr_admins,
            Right.GENERIC_ALL,
            flags=INHERIT | AceFlag.INHERIT_ONLY,
            inherited_object_type=USER_CLASS,
        )
    )
    return Dacl(tuple(aces))


def delete_organization_tree(directory: DirectoryService, dn: DN) -> None:
    """Delete an organization and everything below it, leaves first."""
    from openmps.directory.interface import Scope

    for entry in reversed(directory.search(dn, Scope.SUBTREE)):
        directory.delete(entry.dn)


def _encode(pointers: Sequence[tuple[str, DN]]) -> list[str]:
    return [wellknown.encode(name, target) for name, target in pointers]


def ensure_pointers(directory: DirectoryService, dn: DN, pointers: Sequence[tuple[str, DN]]) -> None:
    """The entry's otherWellKnownObjects hold ``pointers``: missing ones are added, a pointer of
    the same name to another target is replaced, pointers of other names (address lists…) stay."""
    if not pointers:
        return
    held = directory.get(dn).get(WELL_KNOWN)
    wanted = {wellknown.guid_of(name): wellknown.encode(name, target) for name, target in pointers}
    stale = [v for v in held if v.split(":")[2].upper() in wanted and v not in wanted.values()]
    missing = [v for v in wanted.values() if v not in held]
    changes = ([Change.delete(WELL_KNOWN, *stale)] if stale else []) + (
        [Change.add(WELL_KNOWN, *missing)] if missing else []
    )
    if changes:
        directory.modify(dn, changes)


def _sid(directory: DirectoryService, dn: DN) -> str | None:
    entry = directory.find(dn)
    return entry.sid if entry else None
