"""Attribute flow completed (issue 14): a user's manager (the managed user synced from the source's,
set after every user of the run is made), the proxies of existing users, and the changed attributes
of contacts and lists through Hosted Exchange's ModifyContact and ModifyDistributionList.  A second
snapshot changing the attributes changes the managed objects; a re-run without change writes
nothing and reports no error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from test_sync import ALPINE

from openmps.app import Deployment
from openmps.directory.interface import Entry
from openmps.sync.ldif_source import LdifSource
from openmps.sync.runner import Run, organization, state_of, sync
from openmps.sync.source import Snapshot
from openmps.types import DN
from support import he, make_alpineskihouse, ok

AMY, BEN, DAN = (
    "11111111-1111-1111-1111-111111111111",
    "22222222-2222-2222-2222-222222222222",
    "66666666-6666-6666-6666-666666666666",
)
PARTNER, SALES = "44444444-4444-4444-4444-444444444444", "55555555-5555-5555-5555-555555555555"
AMY_DN, BEN_DN, DAN_DN = (ALPINE.child("CN", f"{n}@alpineskihouse.com") for n in ("amy", "ben", "dan"))
OU = "OU=Staff,DC=corp,DC=example"
MODIFYING = ("ModifyUser", "ModifyContact", "ModifyDistributionList")


def obj(guid: str, cn: str, kind: str, **attributes: str | tuple[str, ...]) -> str:
    lines = [f"dn: CN={cn},{OU}", f"objectClass: {kind}", f"cn: {cn}", f"objectGUID: {guid}"]
    for name, value in attributes.items():
        lines += [f"{name}: {v}" for v in ((value,) if isinstance(value, str) else value)]
    return "\n".join(lines) + "\n"


def forest(
    *,
    amy: dict[str, str | tuple[str, ...]] | None = None,
    ben: dict[str, str | tuple[str, ...]] | None = None,
    dan: dict[str, str | tuple[str, ...]] | None = None,
    partner: dict[str, str | tuple[str, ...]] | None = None,
    sales: dict[str, str | tuple[str, ...]] | None = None,
    sales_cn: str = "Sales",
) -> LdifSource:
    """Amy, whose manager Ben comes after her in the file (made later in the same run); Dan without
    mail (not provisioned) unless given one; a contact; a distribution group."""
    parts = [
        obj(
            AMY,
            "Amy",
            "user",
            **{"mail": "amy@alpineskihouse.com", "displayName": "Amy Rusko", **(amy or {})},
        ),
        obj(
            BEN,
            "Ben",
            "user",
            **{"mail": "ben@alpineskihouse.com", "displayName": "Ben Smith", **(ben or {})},
        ),
        obj(DAN, "Dan", "user", **{"displayName": "Dan Berg", **(dan or {})}),
        obj(PARTNER, "Partner", "contact", **{"mail": "partner@contoso.example", **(partner or {})}),
        obj(SALES, sales_cn, "group", **{"groupType": "8", "description": "Sales", **(sales or {})}),
    ]
    return LdifSource("\n".join(parts).encode())


def entry(d: Deployment, dn: DN) -> Entry:
    with d.transaction() as providers:
        return providers.directory.get(dn)


def clean(run: Run) -> Run:
    assert run.errors == [], run.errors
    return run


def edits(d: Deployment) -> int:
    """How many edit procedures the audit log has seen succeed."""
    return sum(len(d.audit.search(procedure=p, outcome="success")) for p in MODIFYING)


def quiet(d: Deployment, source: LdifSource) -> None:
    """A re-run without change: no action, no error, no edit called."""
    before = edits(d)
    run = clean(sync(d, ALPINE, source))
    assert run.actions == [] and edits(d) == before


def manager_of(d: Deployment, dn: DN) -> DN | None:
    value = entry(d, dn).first("manager")
    return DN.parse(value) if value else None


def deployment_with_domains(d: Deployment) -> Deployment:
    make_alpineskihouse(d, exchange=True)
    ok(d.submit(he("CreateSMTPDomain", path=ALPINE.ldap_path, SMTPDomain="ski.example")))
    return d


def test_a_manager_made_later_in_the_same_run_is_set(deployment: Deployment) -> None:
    d = deployment_with_domains(deployment)
    first = forest(amy={"manager": f"CN=Ben,{OU}"})
    clean(sync(d, ALPINE, first))
    assert manager_of(d, AMY_DN) == BEN_DN
    quiet(d, first)


def test_a_manager_not_provisioned_is_cleared_and_set_when_it_is(deployment: Deployment) -> None:
    d = deployment_with_domains(deployment)
    clean(sync(d, ALPINE, forest(amy={"manager": f"CN=Ben,{OU}"})))
    to_dan = forest(amy={"manager": f"CN=Dan,{OU}"})  # Dan has no mail: not provisioned
    assert clean(sync(d, ALPINE, to_dan)).counts["update"] == 1
    assert manager_of(d, AMY_DN) is None
    quiet(d, to_dan)
    # written as another DN spelling of the same object: matched as a DN
    dan_provisioned = forest(
        amy={"manager": "cn=dan, ou=staff,dc=CORP,dc=example"}, dan={"mail": "dan@alpineskihouse.com"}
    )
    run = clean(sync(d, ALPINE, dan_provisioned))
    assert (run.counts["create"], run.counts["update"]) == (1, 1)
    assert manager_of(d, AMY_DN) == DAN_DN
    quiet(d, dan_provisioned)


def test_changed_proxies_contacts_and_lists_flow_and_a_rerun_writes_nothing(deployment: Deployment) -> None:
    d = deployment_with_domains(deployment)
    first = forest(amy={"proxyAddresses": ("SMTP:amy@alpineskihouse.com", "smtp:amy@ski.example")})
    clean(sync(d, ALPINE, first))
    quiet(d, first)
    second = forest(
        amy={
            "proxyAddresses": ("SMTP:amy@alpineskihouse.com", "smtp:amy.r@ski.example", "smtp:a@else.example")
        },
        partner={
            "displayName": "Our Partner",
            "mail": "partners@contoso.example",
            "proxyAddresses": ("SMTP:partners@contoso.example", "smtp:partner@ski.example"),
        },
        sales={
            "displayName": "Sales Team",
            "description": "Everyone selling",
            "proxyAddresses": "smtp:sales@ski.example",
        },
    )
    run = clean(sync(d, ALPINE, second))
    assert run.counts["update"] == 3
    amy = {p.lower() for p in entry(d, AMY_DN).get("proxyAddresses")}
    assert amy == {"smtp:amy@alpineskihouse.com", "smtp:amy.r@ski.example"}  # else.example is not the org's
    partner = entry(d, ALPINE.child("CN", "Partner"))
    assert partner.first("displayName") == "Our Partner"
    assert partner.first("targetAddress") == "SMTP:partners@contoso.example"
    assert "smtp:partner@ski.example" in partner.get("proxyAddresses")
    sales = entry(d, ALPINE.child("CN", "Sales"))
    assert (sales.first("displayName"), sales.first("description")) == ("Sales Team", "Everyone selling")
    assert "smtp:sales@ski.example" in sales.get("proxyAddresses")
    assert d.audit.search(procedure="ModifyContact", outcome="success")  # through the engine, audited
    quiet(d, second)
    # back to the first snapshot: its values return; a display name it lacks falls back to the name
    clean(sync(d, ALPINE, first))
    sales = entry(d, ALPINE.child("CN", "Sales"))
    assert (sales.first("displayName"), sales.first("description")) == ("Sales", "Sales")
    assert entry(d, ALPINE.child("CN", "Partner")).first("displayName") == "Partner"
    assert not any("ski.example" in p for p in entry(d, ALPINE.child("CN", "Partner")).get("proxyAddresses"))


def test_a_proxy_another_object_holds_is_an_error_naming_it_every_run_with_nothing_written(
    deployment: Deployment,
) -> None:
    d = deployment_with_domains(deployment)
    first = forest(amy={"proxyAddresses": "smtp:amy@ski.example"})
    clean(sync(d, ALPINE, first))
    taking = forest(
        amy={"proxyAddresses": "smtp:amy@ski.example"},
        ben={"title": "Boss", "proxyAddresses": "smtp:amy@ski.example"},
    )
    for _ in range(2):  # told again until resolved
        run = sync(d, ALPINE, taking)
        assert [e.source_dn for e in run.errors] == [f"CN=Ben,{OU}"]
        assert "amy@ski.example" in run.errors[0].reason
        ben = entry(d, BEN_DN)
        assert ben.first("title") is None and not any("ski.example" in p for p in ben.get("proxyAddresses"))
    resolved = forest(
        amy={"proxyAddresses": "smtp:amy@ski.example"},
        ben={"title": "Boss", "proxyAddresses": "smtp:ben@ski.example"},
    )
    clean(sync(d, ALPINE, resolved))
    assert entry(d, BEN_DN).first("title") == "Boss"
    quiet(d, resolved)


def test_a_manager_whose_creation_failed_is_the_users_error_until_it_is_made(deployment: Deployment) -> None:
    d = deployment_with_domains(deployment)
    failing = forest(amy={"manager": f"CN=Ben,{OU}"}, ben={"mail": "ben@elsewhere.example"})
    for _ in range(2):  # Ben is refused (not a domain of the organization), and Amy told, each run
        run = sync(d, ALPINE, failing)
        assert sorted(e.source_dn for e in run.errors) == [f"CN=Amy,{OU}", f"CN=Ben,{OU}"]
        amy = next(e for e in run.errors if e.source_dn.startswith("CN=Amy"))
        assert amy.reason.startswith("manager: ") and "ben@elsewhere.example" in amy.reason
        assert manager_of(d, AMY_DN) is None
    fixed = forest(amy={"manager": f"CN=Ben,{OU}"})
    clean(sync(d, ALPINE, fixed))
    assert manager_of(d, AMY_DN) == BEN_DN
    quiet(d, fixed)


class Deltas:
    """The forest read as DirSync reads it: everything first, then from a cookie only what changed
    since (the objects ``change`` names, as the forest now has them); failed objects read again by
    objectGUID from the forest as it is."""

    def __init__(self, forest: LdifSource) -> None:
        self.forest, self.changed, self.reads = forest, [], 0

    def change(self, forest: LdifSource, *guids: str) -> None:
        self.forest, self.changed = forest, list(guids)

    def read(self, cookie: str | None = None, *, attributes: Sequence[str] = ()) -> Snapshot:
        self.reads += 1
        found = self.forest.read() if cookie is None else self.forest.reread(self.changed)
        self.changed = []
        return replace(found, cookie=str(self.reads))

    def reread(self, guids: Sequence[str], *, attributes: Sequence[str] = ()) -> Snapshot:
        return self.forest.reread(guids)


def kept(d: Deployment) -> tuple[str | None, set[str]]:
    """The organization's DirSync cookie and the objects its runs failed on."""
    org_guid, _ = organization(d, ALPINE)
    with state_of(d) as state:
        return state.cookie(org_guid), set(state.pending(org_guid))


def test_a_delta_listing_a_user_alone_finds_its_unchanged_manager(deployment: Deployment) -> None:
    """A delta names Amy only; Ben, her new manager, is unchanged: the runner reads the whole
    connector space for her (a manager is ``DN_VALUED``), not only her link."""
    d = deployment_with_domains(deployment)
    source = Deltas(forest())
    clean(sync(d, ALPINE, source))
    assert manager_of(d, AMY_DN) is None
    source.change(forest(amy={"manager": f"CN=Ben,{OU}"}), AMY)
    run = clean(sync(d, ALPINE, source))
    assert run.actions == [("update", "user", f"CN=Amy,{OU}")]
    assert manager_of(d, AMY_DN) == BEN_DN
    assert clean(sync(d, ALPINE, source)).actions == []  # nothing changed since


def test_a_users_failing_manager_moves_the_cookie_and_is_set_when_the_manager_is_made(
    deployment: Deployment,
) -> None:
    """The manager's failure is the user's error by its objectGUID: the cookie moves past it, the
    user is remembered and read again by the delta in which its manager is at last made."""
    d = deployment_with_domains(deployment)
    source = Deltas(forest(amy={"manager": f"CN=Ben,{OU}"}, ben={"mail": "ben@elsewhere.example"}))
    failed = sync(d, ALPINE, source)
    assert sorted((e.source_dn, e.source_guid) for e in failed.errors) == [
        (f"CN=Amy,{OU}", AMY),
        (f"CN=Ben,{OU}", BEN),
    ]
    assert kept(d) == ("1", {AMY, BEN})
    source.change(forest(amy={"manager": f"CN=Ben,{OU}"}), BEN)  # Ben's mail fixed; Amy unchanged
    run = clean(sync(d, ALPINE, source))
    assert run.retried == 1 and run.counts["create"] == 1
    assert manager_of(d, AMY_DN) == BEN_DN
    assert kept(d) == ("2", set())
    assert clean(sync(d, ALPINE, source)).actions == []


def members_of(d: Deployment, dn: DN) -> set[DN]:
    return {DN.parse(m) for m in entry(d, dn).get("member")}


def test_a_manager_and_a_member_provisioned_by_a_later_delta_are_set_on_those_naming_them(
    deployment: Deployment,
) -> None:
    """Amy's manager and a member of Sales is Dan, not provisioned (no mail); a later delta lists
    Dan alone, now with mail: the run that makes him sets him on Amy and in Sales, unchanged both,
    as their waiting on him was remembered; the run after reads neither again."""
    d = deployment_with_domains(deployment)
    dan = f"CN=Dan,{OU}"
    named = {"amy": {"manager": dan}, "sales": {"member": dan}}
    source = Deltas(forest(**named))
    clean(sync(d, ALPINE, source))
    assert manager_of(d, AMY_DN) is None and members_of(d, ALPINE.child("CN", "Sales")) == set()
    source.change(forest(**named, dan={"mail": "dan@alpineskihouse.com"}), DAN)
    run = clean(sync(d, ALPINE, source))
    assert run.awaited == 2 and run.counts["create"] == 1 and run.counts["update"] == 2
    assert manager_of(d, AMY_DN) == DAN_DN
    assert members_of(d, ALPINE.child("CN", "Sales")) == {DAN_DN}
    source.change(forest(**named, dan={"mail": "dan@alpineskihouse.com", "title": "Boss"}), DAN)
    again = clean(sync(d, ALPINE, source))
    assert again.awaited == 0 and again.actions == [("update", "user", dan)]
    assert clean(sync(d, ALPINE, source)).actions == []


def test_a_contacts_description_flows_on_creation_and_change_and_goes_when_the_source_drops_it(
    deployment: Deployment,
) -> None:
    d = deployment_with_domains(deployment)
    partner = ALPINE.child("CN", "Partner")
    described = forest(partner={"description": "Our ski supplier"})
    clean(sync(d, ALPINE, described))
    assert entry(d, partner).get("description") == ("Our ski supplier",)
    quiet(d, described)
    changed = forest(partner={"description": "Our boot supplier"})
    assert clean(sync(d, ALPINE, changed)).actions == [("update", "contact", f"CN=Partner,{OU}")]
    assert entry(d, partner).get("description") == ("Our boot supplier",)
    clean(sync(d, ALPINE, forest()))
    assert entry(d, partner).get("description") == ()


def test_a_list_renamed_at_the_source_is_renamed_with_its_members_and_a_taken_name_is_an_error(
    deployment: Deployment,
) -> None:
    """Same objectGUID, a new CN: the managed list's name and path follow (its members kept, a
    display name it lacks the new name); a name another object has is the list's error naming it,
    nothing changed, until the name is free."""
    d = deployment_with_domains(deployment)
    members = {"member": (f"CN=Amy,{OU}", f"CN=Partner,{OU}")}
    first = forest(sales=members)
    clean(sync(d, ALPINE, first))
    old, new = ALPINE.child("CN", "Sales"), ALPINE.child("CN", "Sales Team")
    assert members_of(d, old) == {AMY_DN, ALPINE.child("CN", "Partner")}
    renamed = forest(sales=members, sales_cn="Sales Team")
    run = clean(sync(d, ALPINE, renamed))
    assert run.actions == [("update", "group", f"CN=Sales Team,{OU}")]
    with d.transaction() as providers:
        assert providers.directory.find(old) is None
    team = entry(d, new)
    assert team.first("cn") == "Sales Team" and team.first("displayName") == "Sales Team"
    assert members_of(d, new) == {AMY_DN, ALPINE.child("CN", "Partner")}
    org_guid, _ = organization(d, ALPINE)
    with state_of(d) as state:
        assert DN.parse(state.links(org_guid)[SALES].managed_dn) == new
    quiet(d, renamed)

    ok(d.submit(he("CreateDistributionList", container=ALPINE.ldap_path, name="Support")))
    taken = forest(sales=members, sales_cn="Support")
    for _ in range(2):  # told each run, nothing changed
        failed = sync(d, ALPINE, taken)
        assert [(e.source_dn, e.source_guid) for e in failed.errors] == [(f"CN=Support,{OU}", SALES)]
        assert "Support" in failed.errors[0].reason and "already exists" in failed.errors[0].reason
        assert members_of(d, new) == {AMY_DN, ALPINE.child("CN", "Partner")}
        assert members_of(d, ALPINE.child("CN", "Support")) == set()
    ok(d.submit(he("DeleteDistributionList", path=ALPINE.child("CN", "Support").ldap_path)))
    clean(sync(d, ALPINE, taken))
    assert members_of(d, ALPINE.child("CN", "Support")) == {AMY_DN, ALPINE.child("CN", "Partner")}


def test_a_lists_alias_flows_and_its_primary_address_follows(deployment: Deployment) -> None:
    d = deployment_with_domains(deployment)
    sales = ALPINE.child("CN", "Sales")
    first = forest(sales={"mailNickname": "sales"})
    clean(sync(d, ALPINE, first))
    made = entry(d, sales)
    assert (made.first("mailNickname"), made.first("mail")) == ("sales", "sales@alpineskihouse.com")
    quiet(d, first)
    renamed = forest(sales={"mailNickname": "team", "proxyAddresses": "smtp:sales@alpineskihouse.com"})
    assert clean(sync(d, ALPINE, renamed)).actions == [("update", "group", f"CN=Sales,{OU}")]
    team = entry(d, sales)
    assert (team.first("mailNickname"), team.first("mail")) == ("team", "team@alpineskihouse.com")
    assert sorted(team.get("proxyAddresses")) == [
        "SMTP:team@alpineskihouse.com",
        "smtp:sales@alpineskihouse.com",
    ]
    quiet(d, renamed)


def test_a_lists_mail_flows_to_its_primary_address_keeping_the_old_one(deployment: Deployment) -> None:
    d = deployment_with_domains(deployment)
    sales = ALPINE.child("CN", "Sales")
    first = forest(sales={"mailNickname": "sales", "mail": "sales@ski.example"})
    clean(sync(d, ALPINE, first))
    assert list(entry(d, sales).get("proxyAddresses")) == ["SMTP:sales@ski.example"]
    quiet(d, first)
    # Exchange at the source keeps the old primary among its proxyAddresses: so does the list
    moved = forest(
        sales={
            "mailNickname": "sales",
            "mail": "deals@alpineskihouse.com",
            "proxyAddresses": "smtp:sales@ski.example",
        }
    )
    assert clean(sync(d, ALPINE, moved)).actions == [("update", "group", f"CN=Sales,{OU}")]
    deals = entry(d, sales)
    assert (deals.first("mailNickname"), deals.first("mail")) == ("sales", "deals@alpineskihouse.com")
    assert sorted(deals.get("proxyAddresses")) == ["SMTP:deals@alpineskihouse.com", "smtp:sales@ski.example"]
    quiet(d, moved)
    # a mail on a domain the provider does not host for the organization: the list keeps its
    # primary address, and the rest flows (as a user's proxy on such a domain is left out)
    outside = forest(sales={"mailNickname": "sales", "mail": "sales@contoso.example", "description": "new"})
    clean(sync(d, ALPINE, outside))
    kept = entry(d, sales)
    assert (kept.first("mail"), kept.first("description")) == ("deals@alpineskihouse.com", "new")


def test_a_contacts_alias_flows_and_its_primary_address_follows(deployment: Deployment) -> None:
    d = deployment_with_domains(deployment)
    partner = ALPINE.child("CN", "Partner")
    first = forest(partner={"mailNickname": "ally"})
    clean(sync(d, ALPINE, first))
    assert entry(d, partner).first("mail") == "ally@alpineskihouse.com"
    quiet(d, first)
    renamed = forest(partner={"mailNickname": "friend", "proxyAddresses": "smtp:ally@alpineskihouse.com"})
    assert clean(sync(d, ALPINE, renamed)).actions == [("update", "contact", f"CN=Partner,{OU}")]
    friend = entry(d, partner)
    assert (friend.first("mailNickname"), friend.first("mail")) == ("friend", "friend@alpineskihouse.com")
    assert sorted(friend.get("proxyAddresses")) == [
        "SMTP:friend@alpineskihouse.com",
        "smtp:ally@alpineskihouse.com",
    ]
    assert friend.first("targetAddress") == "SMTP:partner@contoso.example"
    quiet(d, renamed)
