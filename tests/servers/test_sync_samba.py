"""Service provisioning sync from a real forest: the Samba AD DC of scripts/samba-dc.sh read with
DirSync (issue 14).  A full sync of users, contacts and groups, deltas that create, modify, move and
delete, a delta with nothing changed that reads and writes nothing, a move out of scope that
deprovisions, two organizations whose scopes never see each other's objects, and every bad
connection refused with an error naming it before anything is written."""

from __future__ import annotations

import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from ldap3 import BASE, MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, Connection, Server, Tls
from sqlalchemy import func, select
from typer.testing import CliRunner

from openmps.app import Deployment
from openmps.cli.main import app
from openmps.db.schema import audit_log
from openmps.errors import InvalidArgument, MpsError, NotFound, ServiceBusy
from openmps.sync.interface import ACTIVE, DISCONNECTED, PURGED
from openmps.sync.ldap_source import LdapSource
from openmps.sync.rules import source_attributes
from openmps.sync.runner import organization, state_of, sync
from openmps.sync.source import Snapshot, SourceConnection
from openmps.sync.sql import SqlSyncState
from openmps.syncconfig.interface import EXPLICIT, SyncRules
from openmps.types import DN, Secret
from support import (
    DirectoryServer,
    RawXml,
    make_alpineskihouse,
    make_contoso,
    ok,
    org_path,
    request_xml,
    snapshot,
)

DOMAIN = "DC=example,DC=com"  # the session DC's domain (tests/conftest.py samba_dc)
ALPINE = DN.from_path(org_path("WH", "alpineskihouse"))
CONTOSO = DN.from_path(org_path("WH", "contoso"))
runner = CliRunner()


def sp(procedure: str, /, **args: object) -> str:
    return request_xml("Service Provisioning", procedure, **args)


def ca_file(dc: DirectoryServer) -> str:
    assert dc.ca_file is not None  # scripts/samba-dc.sh prints it
    return str(dc.ca_file)


@pytest.fixture
def conn(samba_dc: DirectoryServer) -> Iterator[Connection]:
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file(samba_dc))
    server = Server(samba_dc.url, get_info=None, tls=tls, connect_timeout=5)
    c = Connection(server, samba_dc.bind_dn, samba_dc.password, auto_bind=True, raise_exceptions=True)
    yield c
    c.unbind()


class Forest:
    """One test's own OU of the customer's forest, its names carrying the test's token."""

    def __init__(self, conn: Connection, name: str = "corp", parent: str = DOMAIN) -> None:
        self.conn = conn
        self.token = secrets.token_hex(3)
        self.dn = self.ou(f"{name}{self.token}", parent)

    def ou(self, name: str, parent: str | None = None) -> str:
        dn = f"OU={name},{parent or self.dn}"
        self.conn.add(dn, ["top", "organizationalUnit"])
        return dn

    def user(self, name: str, mail: str | None, parent: str | None = None) -> str:
        dn = f"CN={name},{parent or self.dn}"
        attrs: dict[str, object] = {"sAMAccountName": f"{name}{self.token}", "displayName": name.title()}
        if mail:
            attrs["mail"] = mail
        self.conn.add(dn, ["top", "person", "organizationalPerson", "user"], attrs)
        return dn

    def contact(self, name: str, mail: str) -> str:
        dn = f"CN={name},{self.dn}"
        self.conn.add(dn, ["top", "person", "organizationalPerson", "contact"], {"mail": mail})
        return dn

    def group(self, name: str, *members: str) -> str:
        dn = f"CN={name},{self.dn}"
        attrs: dict[str, object] = {"sAMAccountName": f"{name}{self.token}", "groupType": 8}
        if members:
            attrs["member"] = list(members)
        self.conn.add(dn, ["top", "group"], attrs)
        return dn

    def guid(self, dn: str) -> str:
        self.conn.search(dn, "(objectClass=*)", BASE, attributes=["objectGUID"])
        return str(uuid.UUID(bytes_le=self.conn.entries[0].objectGUID.raw_values[0]))


def connection(dc: DirectoryServer, *include: str, **changes: object) -> SourceConnection:
    found = SourceConnection(
        dc.url, dc.bind_dn, Secret(dc.password), include_ous=include, ca_file=ca_file(dc)
    )
    return replace(found, **changes)  # type: ignore[arg-type]


class Recording:
    """A source that keeps what its last read answered (how much a delta read), and what the run
    read again by objectGUID (the objects whose last run failed)."""

    def __init__(self, source: LdapSource) -> None:
        self.source = source
        self.last: Snapshot | None = None
        self.again: Snapshot | None = None

    def read(self, cookie: str | None = None, *, attributes: Sequence[str] = ()) -> Snapshot:
        self.last, self.again = self.source.read(cookie, attributes=attributes), None
        return self.last

    def reread(self, guids: Sequence[str], *, attributes: Sequence[str] = ()) -> Snapshot:
        self.again = self.source.reread(guids, attributes=attributes)
        return self.again


def writes(d: Deployment) -> tuple[dict[str, list[tuple[object, ...]]], int]:
    """Every row but the run records and the DirSync cookie, and how many audit entries: equal means
    nothing was written.  The cookie may move on an idle delta: the session's DC is shared, and a
    change anywhere in its partition (out of the organization's scope, or the DC's own bookkeeping)
    advances the watermark."""
    rows = {k: v for k, v in snapshot(d).items() if k not in ("sync_runs", "sync_cookies")}
    with d.sql.connect() as c:
        return rows, int(c.execute(select(func.count()).select_from(audit_log)).scalar_one())


def managed(d: Deployment, org: DN) -> dict[str, list[str]]:
    """The organization's synced objects by CN: their members' CNs (groups) or []."""
    from openmps.directory.interface import Scope

    with d.transaction() as providers:
        return {
            e.dn.rdn_value: sorted(DN.parse(m).rdn_value for m in e.get("member"))
            for e in providers.directory.search(org, Scope.ONELEVEL)
            if e.has_class("user") or e.has_class("contact") or e.first("groupType") == "8"
        }


def links(d: Deployment, org: DN) -> dict[str, str]:
    org_guid, _ = organization(d, org)
    with state_of(d) as state:
        return {g: link.state for g, link in state.links(org_guid).items()}


def test_a_read_lists_users_contacts_and_groups_of_the_scope_only(
    samba_dc: DirectoryServer, conn: Connection
) -> None:
    forest = Forest(conn)
    staff = forest.ou("staff")
    hidden = forest.ou("hidden")
    amy = forest.user("amy", "amy@alpineskihouse.com", staff)
    forest.user("hal", "hal@alpineskihouse.com", hidden)
    partner = forest.contact("partner", "partner@contoso.example")
    sales = forest.group("sales", amy, partner)
    other = Forest(conn, "other")
    other.user("carl", "carl@contoso.com")

    read = LdapSource(connection(samba_dc, forest.dn, exclude_ous=(hidden,))).read()
    assert read.full and read.cookie
    found = {o.dn: o for o in read.objects}
    assert set(found) == {amy, partner, sales}  # not hal (excluded), not carl (another OU)
    assert found[amy].kind == "user" and found[amy].first("mail") == "amy@alpineskihouse.com"
    assert found[amy].guid == forest.guid(amy)
    assert found[partner].kind == "contact"
    assert found[sales].kind == "group"
    assert sorted(found[sales].get("member")) == sorted([amy, partner])  # plain DNs
    assert not any(k.lower() in ("name", "isdeleted", "parentguid") for k in found[amy].attributes)

    # a cookie read for another scope is not continued from: everything is read again
    again = LdapSource(connection(samba_dc, forest.dn)).read(read.cookie)
    assert again.full and {o.dn for o in again.objects} == {amy, partner, sales, f"CN=hal,{hidden}"}
    nothing = LdapSource(connection(samba_dc, forest.dn)).read(again.cookie)
    assert not nothing.full and nothing.objects == [] and nothing.deleted == []


def test_a_read_answers_the_attributes_the_organizations_rules_name(
    samba_dc: DirectoryServer, conn: Connection
) -> None:
    forest = Forest(conn)
    amy = forest.user("amy", "amy@alpineskihouse.com")
    conn.modify(amy, {"extensionAttribute1": [(MODIFY_REPLACE, ["createMSOmailbox"])]})
    source = LdapSource(connection(samba_dc, forest.dn))
    plain = source.read()
    assert [o.get("extensionAttribute1") for o in plain.objects] == [[]]  # no rule names it
    rules = SyncRules(mailbox_rule=EXPLICIT, mailbox_condition="extensionAttribute1=createMSOmailbox")
    assert "extensionAttribute1" in source_attributes(rules)
    named = source.read(plain.cookie, attributes=source_attributes(rules))
    assert named.full  # read for other attributes: the cookie's delta would miss their values
    assert [o.get("extensionAttribute1") for o in named.objects] == [["createMSOmailbox"]]
    assert source.read(named.cookie, attributes=source_attributes(rules)).objects == []


def test_a_forest_is_synced_whole_then_by_deltas(
    deployment: Deployment, samba_dc: DirectoryServer, conn: Connection
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    forest = Forest(conn)
    elsewhere = Forest(conn, "elsewhere")
    amy = forest.user("amy", "amy@alpineskihouse.com")
    ben = forest.user("ben", "ben@alpineskihouse.com")
    forest.user("kiosk", None)
    partner = forest.contact("partner", "partner@contoso.example")
    sales = forest.group("sales", amy, partner)
    source = Recording(LdapSource(connection(samba_dc, forest.dn)))

    first = sync(deployment, ALPINE, source)
    assert first.errors == [] and first.counts["create"] == 4 and first.counts["skipped"] == 1
    assert managed(deployment, ALPINE) == {
        "amy@alpineskihouse.com": [],
        "ben@alpineskihouse.com": [],
        "partner": [],
        "sales": ["amy@alpineskihouse.com", "partner"],
    }

    # nothing changed: the delta lists nothing, and nothing is written but the run's record
    before = writes(deployment)
    idle = sync(deployment, ALPINE, source)
    assert source.last is not None and not source.last.full
    assert source.last.objects == [] and source.last.deleted == []
    assert idle.actions == [] and idle.errors == []
    after = writes(deployment)
    assert {k: v for k, v in after[0].items() if v != before[0].get(k)} == {}
    assert after == before

    # a delta with a creation, a modification (membership), a move within scope and a deletion
    cy = forest.user("cy", "cy@alpineskihouse.com")
    conn.modify(sales, {"member": [(MODIFY_ADD, [cy]), (MODIFY_DELETE, [partner])]})
    sub = forest.ou("sub")
    conn.modify_dn(ben, "CN=ben", new_superior=sub)
    partner_guid = forest.guid(partner)
    conn.delete(partner)
    delta = sync(deployment, ALPINE, source)
    assert source.last is not None and not source.last.full
    assert len(source.last.objects) == 3  # cy, sales, ben: the changed objects only
    assert delta.errors == []
    assert delta.counts == {"create": 1, "update": 2, "delete": 1, "skipped": 0}
    assert managed(deployment, ALPINE) == {
        "amy@alpineskihouse.com": [],
        "ben@alpineskihouse.com": [],
        "cy@alpineskihouse.com": [],
        "sales": ["amy@alpineskihouse.com", "cy@alpineskihouse.com"],
    }
    state = links(deployment, ALPINE)
    assert state[partner_guid] == PURGED
    assert state[forest.guid(f"CN=ben,{sub}")] == ACTIVE  # the same object, by its objectGUID
    assert sync(deployment, ALPINE, source).actions == []

    # out of scope is deprovisioned: moved away, or mail removed (no identity-only objects)
    ben_guid, cy_guid = forest.guid(f"CN=ben,{sub}"), forest.guid(cy)
    conn.modify_dn(f"CN=ben,{sub}", "CN=ben", new_superior=elsewhere.dn)
    conn.modify(cy, {"mail": [(MODIFY_DELETE, [])]})
    gone = sync(deployment, ALPINE, source)
    assert gone.errors == [] and gone.counts["delete"] == 2
    state = links(deployment, ALPINE)
    assert state[ben_guid] == state[cy_guid] == DISCONNECTED
    kept = managed(deployment, ALPINE)
    assert "ben@alpineskihouse.com" not in kept  # disconnected: out of the organization's tree,
    org_guid, _ = organization(deployment, ALPINE)
    with state_of(deployment) as kept_state:
        moved = DN.parse(kept_state.links(org_guid)[ben_guid].managed_dn)
    with deployment.transaction() as providers:  # and kept for the retention period
        assert moved.rdn_value == "ben@alpineskihouse.com" and providers.directory.find(moved) is not None
    assert kept["sales"] == ["amy@alpineskihouse.com"]  # membership follows the source still


def test_a_delta_with_nothing_changed_still_runs_the_lifecycles_timers(
    deployment: Deployment, samba_dc: DirectoryServer, conn: Connection
) -> None:
    """It reads only the pending and disconnected links, not the whole connector space, and a
    disconnected user's retention still runs out."""
    make_alpineskihouse(deployment, exchange=True)
    forest = Forest(conn)
    amy = forest.user("amy", "amy@alpineskihouse.com")
    forest.user("ben", "ben@alpineskihouse.com")
    source = Recording(LdapSource(connection(samba_dc, forest.dn)))
    assert sync(deployment, ALPINE, source).counts["create"] == 2
    amy_guid = forest.guid(amy)
    conn.delete(amy)
    assert sync(deployment, ALPINE, source).counts["delete"] == 1
    assert links(deployment, ALPINE)[amy_guid] == DISCONNECTED
    later = datetime.now(UTC) + timedelta(days=31)  # past the default retention of 30 days
    purged = sync(deployment, ALPINE, source, now=later)
    assert source.last is not None and not source.last.full
    assert source.last.objects == [] and source.last.deleted == []
    assert purged.errors == [] and purged.counts.get("purge") == 1
    assert links(deployment, ALPINE) == {forest.guid(f"CN=ben,{forest.dn}"): ACTIVE, amy_guid: PURGED}


def test_a_group_loop_made_by_a_delta_is_an_error_naming_it(
    deployment: Deployment, samba_dc: DirectoryServer, conn: Connection
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    forest = Forest(conn)
    amy = forest.user("amy", "amy@alpineskihouse.com")
    ben = forest.user("ben", "ben@alpineskihouse.com")
    inner = forest.group("inner", ben)
    outer = forest.group("outer", amy, inner)
    source = LdapSource(connection(samba_dc, forest.dn))
    assert sync(deployment, ALPINE, source).errors == []
    before = managed(deployment, ALPINE)
    assert before["outer"] == ["amy@alpineskihouse.com", "inner"]

    # only inner changes; the loop runs through outer, which the delta lists for it
    conn.modify(inner, {"member": [(MODIFY_ADD, [outer])]})
    looped = sync(deployment, ALPINE, source)
    assert sorted(e.source_dn for e in looped.errors) == sorted([inner, outer])
    assert all("a group loop" in e.reason for e in looped.errors)
    assert managed(deployment, ALPINE) == before  # neither group changed
    conn.modify(inner, {"member": [(MODIFY_DELETE, [outer])]})
    assert sync(deployment, ALPINE, source).errors == []  # both read again (outer by objectGUID)


def test_a_manager_and_a_member_provisioned_by_a_later_delta_are_set_where_they_are_named(
    deployment: Deployment, samba_dc: DirectoryServer, conn: Connection
) -> None:
    """Dan, without mail, is amy's manager and a member of sales: neither gets him.  A delta in
    which Dan alone changes (mail given) makes him, and the same run sets him as amy's manager and
    in sales, read again by objectGUID as they wait on him; the run after reads neither again."""
    make_alpineskihouse(deployment, exchange=True)
    forest = Forest(conn)
    dan = forest.user("dan", None)
    amy = forest.user("amy", "amy@alpineskihouse.com")
    conn.modify(amy, {"manager": [(MODIFY_REPLACE, [dan])]})
    sales = forest.group("sales", amy, dan)
    source = Recording(LdapSource(connection(samba_dc, forest.dn)))
    first = sync(deployment, ALPINE, source)
    assert first.errors == [] and first.counts["create"] == 2
    amy_dn, dan_dn = (ALPINE.child("CN", f"{n}@alpineskihouse.com") for n in ("amy", "dan"))

    def manager() -> str | None:
        with deployment.transaction() as providers:
            return providers.directory.get(amy_dn).first("manager")

    assert manager() is None and managed(deployment, ALPINE)["sales"] == ["amy@alpineskihouse.com"]

    conn.modify(dan, {"mail": [(MODIFY_REPLACE, ["dan@alpineskihouse.com"])]})
    made = sync(deployment, ALPINE, source)
    assert source.last is not None and [o.dn for o in source.last.objects] == [dan]
    assert source.again is not None and sorted(o.dn for o in source.again.objects) == sorted([amy, sales])
    assert made.errors == [] and made.awaited == 2
    assert (made.counts["create"], made.counts["update"]) == (1, 2)
    assert DN.parse(manager() or "") == dan_dn
    assert managed(deployment, ALPINE)["sales"] == ["amy@alpineskihouse.com", "dan@alpineskihouse.com"]
    idle = sync(deployment, ALPINE, source)
    assert idle.actions == [] and idle.awaited == 0 and source.again is None


def test_a_group_renamed_at_the_source_is_renamed_in_the_organization(
    deployment: Deployment, samba_dc: DirectoryServer, conn: Connection
) -> None:
    """A new RDN, the same objectGUID: the delta lists the group under its new DN, and the managed
    list follows (name and path, its members kept); no list is made or deleted."""
    make_alpineskihouse(deployment, exchange=True)
    forest = Forest(conn)
    amy = forest.user("amy", "amy@alpineskihouse.com")
    sales = forest.group("sales", amy)
    source = Recording(LdapSource(connection(samba_dc, forest.dn)))
    assert sync(deployment, ALPINE, source).errors == []
    conn.modify_dn(sales, "CN=sales team")
    run = sync(deployment, ALPINE, source)
    assert run.errors == [] and run.actions == [("update", "group", f"CN=sales team,{forest.dn}")]
    kept = managed(deployment, ALPINE)
    assert "sales" not in kept and kept["sales team"] == ["amy@alpineskihouse.com"]
    assert links(deployment, ALPINE)[forest.guid(f"CN=sales team,{forest.dn}")] == ACTIVE
    assert sync(deployment, ALPINE, source).actions == []


def test_a_failing_object_lets_the_cookie_move_on_and_is_read_again_by_objectguid(
    deployment: Deployment, samba_dc: DirectoryServer, conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delta after a run with a failed object reads only what changed since that run, plus the
    failed object by its objectGUID, and of the connector space only that object's link (and the
    pending and disconnected ones); a held mailbox's blocked deprovisioning is told every run; an
    object deleted at the source, or whose hold is cleared, leaves the list."""
    make_alpineskihouse(deployment, exchange=True)
    forest = Forest(conn)
    amy = forest.user("amy", "amy@alpineskihouse.com")
    bad = forest.user("bad", "bad@elsewhere.example")  # not the organization's domain: refused
    amy_guid, bad_guid = forest.guid(amy), forest.guid(bad)
    source = Recording(LdapSource(connection(samba_dc, forest.dn)))
    org_guid, _ = organization(deployment, ALPINE)

    def failing() -> dict[str, int]:
        with state_of(deployment) as state:
            return {g: p.attempts for g, p in state.pending(org_guid).items()}

    first = sync(deployment, ALPINE, source)
    assert [(e.source_dn, e.source_guid) for e in first.errors] == [(bad, bad_guid)]
    assert failing() == {bad_guid: 1}
    # nothing changed: the delta continues past the failed run and reads nothing; the failed
    # object alone is read again, by its objectGUID, and fails again
    read = SqlSyncState.links
    whole: list[str] = []

    def links_read(self: SqlSyncState, org: str, state: str | None = None, **by: object) -> object:
        if state is None and by.get("guids") is None:
            whole.append(org)
        return read(self, org, state, **by)  # type: ignore[arg-type]

    monkeypatch.setattr(SqlSyncState, "links", links_read)
    again = sync(deployment, ALPINE, source)
    assert whole == []  # not the whole connector space
    assert source.last is not None and not source.last.full
    assert source.last.objects == [] and source.last.deleted == []
    assert source.again is not None and [o.dn for o in source.again.objects] == [bad]
    assert [e.source_dn for e in again.errors] == [bad] and again.retried == 1
    assert failing() == {bad_guid: 2}

    # amy's mailbox on hold, amy deleted at the source: her disconnection is refused, every run,
    # without the delta reading again what it read; bad, deleted too, leaves the list
    ok(
        deployment.submit(
            sp("SetLitigationHold", user=ALPINE.child("CN", "amy@alpineskihouse.com").ldap_path)
        )
    )
    conn.delete(amy)
    conn.delete(bad)
    held = sync(deployment, ALPINE, source)
    assert [(e.source_dn, e.source_guid) for e in held.errors] == [(amy, amy_guid)]
    assert "litigation hold" in held.errors[0].reason
    assert failing() == {amy_guid: 1}
    still = sync(deployment, ALPINE, source)
    assert source.last is not None and source.last.objects == [] and source.last.deleted == []
    assert source.again is not None and source.again.deleted == [amy_guid]  # gone at the source
    assert [e.source_dn for e in still.errors] == [amy] and failing() == {amy_guid: 2}
    assert links(deployment, ALPINE)[amy_guid] == ACTIVE

    ok(
        deployment.submit(
            sp("ClearLitigationHold", user=ALPINE.child("CN", "amy@alpineskihouse.com").ldap_path)
        )
    )
    released = sync(deployment, ALPINE, source)
    assert released.errors == [] and released.counts["delete"] == 1 and failing() == {}
    assert links(deployment, ALPINE)[amy_guid] == DISCONNECTED
    idle = sync(deployment, ALPINE, source)
    assert idle.actions == [] and idle.retried == 0 and source.again is None


def test_two_organizations_each_see_their_own_scope_only(
    deployment: Deployment, samba_dc: DirectoryServer, conn: Connection
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    make_contoso(deployment)
    alpine, contoso = Forest(conn, "alpine"), Forest(conn, "contoso")
    amy = alpine.user("amy", "amy@alpineskihouse.com")
    alpine.group("staff", amy)
    carl = contoso.user("carl", "carl@contoso.com")
    contoso.group("staff", carl)
    mine = LdapSource(connection(samba_dc, alpine.dn))
    theirs = LdapSource(connection(samba_dc, contoso.dn))
    assert sync(deployment, ALPINE, mine).errors == []
    assert sync(deployment, CONTOSO, theirs).errors == []
    assert managed(deployment, ALPINE) == {"amy@alpineskihouse.com": [], "staff": ["amy@alpineskihouse.com"]}
    assert managed(deployment, CONTOSO) == {"carl@contoso.com": [], "staff": ["carl@contoso.com"]}

    # a change in one scope is the other's no change; a deletion in one never touches the other
    conn.delete(f"CN=staff,{contoso.dn}")
    assert sync(deployment, ALPINE, mine).actions == []
    assert sync(deployment, CONTOSO, theirs).counts["delete"] == 1
    assert "staff" in managed(deployment, ALPINE) and "staff" not in managed(deployment, CONTOSO)
    assert set(links(deployment, ALPINE)).isdisjoint(links(deployment, CONTOSO))


def refused(deployment: Deployment, source: LdapSource, error: type[MpsError], *words: str) -> MpsError:
    """The run fails with ``error`` naming ``words``, before anything is written."""
    before = snapshot(deployment)
    with pytest.raises(error) as caught:
        sync(deployment, ALPINE, source)
    assert snapshot(deployment) == before
    for word in words:
        assert word in caught.value.description
    return caught.value


def test_a_bad_connection_is_refused_naming_what_is_wrong(
    deployment: Deployment, samba_dc: DirectoryServer, conn: Connection, tmp_path: Path
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    forest = Forest(conn)
    forest.user("amy", "amy@alpineskihouse.com")
    wrong = "Wrong" + secrets.token_hex(8)

    bad = refused(
        deployment,
        LdapSource(connection(samba_dc, forest.dn, password=Secret(wrong))),
        InvalidArgument,
        samba_dc.bind_dn,
        "wrong password",
    )
    assert bad.fields["argument"] == "password" and wrong not in repr(bad.fields)
    assert wrong not in repr(connection(samba_dc, forest.dn, password=Secret(wrong)))
    missing = f"OU=gone{forest.token},{DOMAIN}"
    bad = refused(deployment, LdapSource(connection(samba_dc, missing)), NotFound, missing, "does not exist")
    assert bad.fields["argument"] == "include_ous"
    refused(
        deployment,
        LdapSource(connection(samba_dc, forest.dn, exclude_ous=(f"OU=x,{forest.dn}",))),
        NotFound,
        f"OU=x,{forest.dn}",
    )
    refused(deployment, LdapSource(connection(samba_dc, "not a DN")), InvalidArgument, "not a DN")
    for url in ("http://dc.example", "ldaps://bad host name:x"):
        bad = refused(deployment, LdapSource(connection(samba_dc, forest.dn, url=url)), InvalidArgument, url)
        assert bad.fields["argument"] == "url"
    # the system's CAs do not know the DC's: TLS fails (ldaps and StartTLS)
    for start_tls in (False, True):
        url = samba_dc.url if not start_tls else samba_dc.url.replace("ldaps://", "ldap://")
        bad = refused(
            deployment,
            LdapSource(connection(samba_dc, forest.dn, url=url, start_tls=start_tls, ca_file=None)),
            InvalidArgument,
            "TLS",
            url,
        )
        assert bad.fields["argument"] == "ca_file"
    no_file = str(tmp_path / "no-such-ca.pem")
    refused(
        deployment, LdapSource(connection(samba_dc, forest.dn, ca_file=no_file)), InvalidArgument, no_file
    )
    # nothing listens there: the source cannot be reached (a retry may do)
    unreachable = samba_dc.url + ":1"
    busy = refused(
        deployment, LdapSource(connection(samba_dc, forest.dn, url=unreachable)), ServiceBusy, unreachable
    )
    assert "cannot be reached" in busy.description
    assert all(samba_dc.password not in str(v) for v in busy.fields.values())


def home_of(d: Deployment) -> str:
    return str(Path(str(d.sql.url.database)).parent)


def password_file(dc: DirectoryServer, folder: Path) -> Path:
    path = folder / "source-password"
    path.write_text(dc.password)
    path.chmod(0o600)
    return path


def test_the_command_line_runs_from_ldap(
    deployment: Deployment, samba_dc: DirectoryServer, conn: Connection, tmp_path: Path
) -> None:
    make_alpineskihouse(deployment, exchange=True)
    forest = Forest(conn)
    forest.user("amy", "amy@alpineskihouse.com")
    org = org_path("WH", "alpineskihouse")
    secret = password_file(samba_dc, tmp_path)
    ldap = ["--from-ldap", samba_dc.url, "--bind-dn", samba_dc.bind_dn, "--password-file", str(secret)]
    scope = ["--include-ou", forest.dn, "--ca-file", ca_file(samba_dc)]

    def cli(*arguments: str) -> Result:
        return runner.invoke(app, ["--home", home_of(deployment), "sync", *arguments], env={"COLUMNS": "250"})

    done = cli("run", "--org", org, *ldap, *scope)
    assert done.exit_code == 0, done.output
    assert samba_dc.password not in done.output
    assert "amy@alpineskihouse.com" in managed(deployment, ALPINE)
    forest.user("ben", "ben@alpineskihouse.com")
    delta = cli("run", "--org", org, *ldap, *scope)
    assert delta.exit_code == 0 and "ben@alpineskihouse.com" in managed(deployment, ALPINE)
    status = cli("status", "--org", org)
    assert status.exit_code == 0 and "create 1" in status.output

    secret.chmod(0o644)
    loose = cli("run", "--org", org, *ldap, *scope)
    assert loose.exit_code == 1 and "0600" in loose.output
    secret.chmod(0o600)
    assert cli("run", "--org", org, *ldap, "--from-ldif", str(secret)).exit_code == 2
    assert cli("run", "--org", org, "--from-ldap", samba_dc.url).exit_code == 2
    gone = cli(
        "run", "--org", org, *ldap, "--include-ou", f"OU=gone,{DOMAIN}", "--ca-file", ca_file(samba_dc)
    )
    assert gone.exit_code == 1 and f"OU=gone,{DOMAIN}" in gone.output


def store(d: Deployment, dc: DirectoryServer, org: str, *include: str) -> None:
    """The organization's stored connection to the DC (SetSyncConnection through the engine), its
    certificate checked against the DC's own CA."""
    ous = RawXml("".join(f"<ou>{ou}</ou>" for ou in include))
    ca = Path(ca_file(dc)).read_text().strip()
    document = sp(
        "SetSyncConnection",
        organization=org,
        sourceURL=dc.url,
        bindDN=dc.bind_dn,
        bindPassword=dc.password,
        includeOUs=ous,
        caCertificate=ca,
    )
    ok(d.submit(document))


def test_the_daemon_runs_deltas_on_a_schedule_and_stops_on_sigterm(
    deployment: Deployment, samba_dc: DirectoryServer, conn: Connection
) -> None:
    """Every organization with a stored connection, each of its own scope; each run's records
    pruned to the deployment's OPENMPS_SYNC_KEEP_RUNS."""
    make_alpineskihouse(deployment, exchange=True)
    make_contoso(deployment)
    alpine, contoso = Forest(conn, "alpine"), Forest(conn, "contoso")
    alpine.user("amy", "amy@alpineskihouse.com")
    contoso.user("carl", "carl@contoso.com")
    store(deployment, samba_dc, org_path("WH", "alpineskihouse"), alpine.dn)
    store(deployment, samba_dc, org_path("WH", "contoso"), contoso.dn)
    command = [str(Path(sys.executable).parent / "openmps"), "--home", home_of(deployment), "sync", "daemon"]
    daemon = subprocess.Popen(
        [*command, "--interval", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "OPENMPS_SYNC_KEEP_RUNS": "2", "OPENMPS_SYNC_KEEP_DAYS": "0"},
    )
    try:

        def appears(org: DN, name: str) -> bool:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and daemon.poll() is None:
                if name in managed(deployment, org):
                    return True
                time.sleep(0.2)
            return False

        assert appears(ALPINE, "amy@alpineskihouse.com") and appears(CONTOSO, "carl@contoso.com")
        alpine.user("ann", "ann@alpineskihouse.com")  # a change at the source: within an interval
        assert appears(ALPINE, "ann@alpineskihouse.com")
        assert "ann@alpineskihouse.com" not in managed(deployment, CONTOSO)
        org_guid, _ = organization(deployment, ALPINE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and daemon.poll() is None:  # past what it keeps
            with state_of(deployment) as state:
                newest = state.runs(org_guid, limit=1)
            if newest and newest[0].run_id >= 8:
                break
            time.sleep(0.2)
    finally:
        daemon.send_signal(signal.SIGTERM)
        output, _ = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, output
    assert "stopped after" in output and samba_dc.password not in output
    assert f"{CONTOSO}: run" in output and f"{ALPINE}: run" in output
    assert "; failing objects 0" in output  # each run's line counts its failing objects
    assert output.count(f"{ALPINE}: run") > 2  # more runs than it keeps
    for org in (ALPINE, CONTOSO):
        org_guid, _ = organization(deployment, org)
        with state_of(deployment) as state:
            assert len(state.runs(org_guid, limit=100)) == 2


def test_a_stored_connection_and_the_organizations_rules_drive_sync_run(
    deployment: Deployment, samba_dc: DirectoryServer, conn: Connection
) -> None:
    """``openmps sync run --org PATH`` alone reads the forest through the organization's stored
    connection (SetSyncConnection: scope, bind password, the DC's CA) and applies its rules (the
    explicit mailbox rule, on an attribute only that rule names) to what it reads, then deltas."""
    make_alpineskihouse(deployment, exchange=True)
    make_contoso(deployment)
    forest = Forest(conn)
    amy = forest.user("amy", "amy@alpineskihouse.com")
    ben = forest.user("ben", "ben@alpineskihouse.com")
    conn.modify(amy, {"extensionAttribute1": [(MODIFY_REPLACE, ["createMSOmailbox"])]})
    outside = Forest(conn, "outside")
    outside.user("olga", "olga@alpineskihouse.com")
    org = org_path("WH", "alpineskihouse")
    store(deployment, samba_dc, org, forest.dn)
    answer = ok(deployment.submit(sp("GetSyncConfiguration", organization=org)))
    assert "BEGIN CERTIFICATE" in "".join(answer.itertext()) and samba_dc.password not in str(answer)
    explicit = "extensionAttribute1=createMSOmailbox"
    ok(
        deployment.submit(
            sp("SetSyncRules", organization=org, mailboxRule="explicit", mailboxCondition=explicit)
        )
    )

    def cli(*arguments: str) -> Result:
        return runner.invoke(app, ["--home", home_of(deployment), "sync", *arguments], env={"COLUMNS": "250"})

    def mailbox(name: str) -> bool | None:
        with deployment.transaction() as providers:
            found = providers.directory.find(ALPINE.child("CN", name))
            return None if found is None else providers.resources.mailbox(found.guid) is not None

    done = cli("run", "--org", org)
    assert done.exit_code == 0, done.output
    assert samba_dc.password not in done.output
    assert mailbox("amy@alpineskihouse.com") is True  # the rule's attribute was read from the DC
    assert mailbox("ben@alpineskihouse.com") is False  # provisioned, no mailbox by the rule
    assert mailbox("olga@alpineskihouse.com") is None  # outside the stored scope
    conn.modify(ben, {"extensionAttribute1": [(MODIFY_REPLACE, ["createMSOmailbox"])]})
    delta = cli("run", "--org", org)
    assert delta.exit_code == 0, delta.output
    assert mailbox("ben@alpineskihouse.com") is True  # a delta: the cookie kept by the first run
    assert len(links(deployment, ALPINE)) == 2
    # attribute flow, by ModifyUser: a manager unchanged in the delta is found among the managed users
    conn.modify(amy, {"title": [(MODIFY_REPLACE, ["Ski instructor"])], "manager": [(MODIFY_REPLACE, [ben])]})
    flowed = cli("run", "--org", org)
    assert flowed.exit_code == 0, flowed.output
    with deployment.transaction() as providers:
        managed = providers.directory.get(ALPINE.child("CN", "amy@alpineskihouse.com"))
        assert managed.first("title") == "Ski instructor"
        assert DN.parse(managed.first("manager") or "") == ALPINE.child("CN", "ben@alpineskihouse.com")
    none = cli("run", "--org", org_path("WH", "contoso"))
    assert none.exit_code == 2 and "no stored connection" in none.output
    ok(deployment.submit(sp("RemoveSyncConnection", organization=org)))
    assert cli("run", "--org", org).exit_code == 2


def test_the_samba_benchmark_runs(samba_dc: DirectoryServer) -> None:
    """bench_sync.py --samba at a tiny size (its own DC, as samba_dc's script starts it): it keeps
    running; no rate is asserted."""
    bench = Path(__file__).resolve().parents[2] / "bench" / "bench_sync.py"
    done = subprocess.run(
        [sys.executable, str(bench), "--samba", "--scale", "0.004", "--baseline", "10"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "delta with no change" in done.stdout and "delta after" in done.stdout, done.stdout
