"""An organization's web virtual directory on each Exchange server (``/exchange/<primary domain>``,
HMC's per-organization Outlook Web Access directory).

OpenMPS runs no Exchange server: it records in the directory what the Exchange provider would have
made, one ``serviceConnectionPoint`` per server under that server's HTTP protocol container
(``CN=1,CN=HTTP,CN=Protocols,CN=<server>,CN=Servers,…``) whose description is the organization's
DN, for a web front end or an operator's script to create the real ones from.  The servers are
those the Resource Manager knows: front-end servers and every store's server.  On AD the containers
are in the forest's configuration partition (``CN=Configuration``), where Exchange keeps them: its
head and ``CN=Services`` are the DC's own, taken over by the LDAP backend as its domain root is.
"""

from __future__ import annotations

from openmps.delegation.session import Org, Providers
from openmps.directory import filters
from openmps.directory.interface import Entry, Scope
from openmps.hosting import exchange
from openmps.types import DN

VDIR_CLASS = "HTTP Virtual Directory"
SCP = "serviceConnectionPoint"


def servers(providers: Providers) -> list[str]:
    """The Exchange servers the Resource Manager knows, each once, in order."""
    names = [*providers.resources.front_ends(), *(s.server_name for s in providers.resources.stores())]
    return list({n.casefold(): n for n in names}.values())


def http_container(providers: Providers, server: str) -> DN:
    group = exchange.exchange_organization(providers.layout).child("CN", "Administrative Groups")
    at = group.child("CN", exchange.ADMINISTRATIVE_GROUP).child("CN", "Servers").child("CN", server)
    return at.child("CN", "Protocols").child("CN", "HTTP").child("CN", "1")


def virtual_directories(providers: Providers, org: Org) -> list[Entry]:
    """The virtual directories recorded for ``org``."""
    mine = filters.and_(
        filters.eq("objectClass", SCP),
        filters.eq("serviceClassName", VDIR_CLASS),
        filters.eq("description", str(org.dn)),
    )
    base = exchange.exchange_organization(providers.layout)
    if not providers.directory.exists(base):
        return []
    return providers.directory.search(base, Scope.SUBTREE, mine)


def ensure_virtual_directories(providers: Providers, org: Org, domain: str) -> list[Entry]:
    """One directory per server for ``domain`` (the primary one); those of a former primary domain
    or of a server no longer known are removed.  Writes nothing when all is as it should be."""
    wanted = {http_container(providers, server).child("CN", domain): server for server in servers(providers)}
    for entry in virtual_directories(providers, org):
        if entry.dn not in wanted:
            providers.directory.delete(entry.dn)
    for dn, server in wanted.items():
        if providers.directory.exists(dn):
            continue
        providers.directory.ensure_containers(dn.parent, below=providers.layout.domain)
        providers.directory.add(
            dn,
            {
                "objectClass": ["top", "leaf", SCP],
                "cn": [domain],
                "serviceClassName": [VDIR_CLASS],
                "serviceDNSName": [server],
                "serviceBindingInformation": [f"/exchange/{domain}"],
                "description": [str(org.dn)],
            },
        )
    return virtual_directories(providers, org)


def delete_virtual_directories(providers: Providers, org: Org) -> None:
    for entry in virtual_directories(providers, org):
        providers.directory.delete(entry.dn)
