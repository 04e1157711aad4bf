"""The directory on an LDAP server (OpenLDAP or Samba AD), through ldap3.

Bound to one unit of work as the SQL backend is, but the server has no transaction to join: every
write registers its inverse with the unit of work's ``on_rollback`` and its intent log
(:mod:`openmps.directory.ldap.journal`) BEFORE it is sent (add →
delete; modify → the prior values of the attributes it changes; delete → the prior entry added
again; move → move back), so a failed request, ``<try>`` or savepoint replays them in reverse.
``memberOf`` is computed from ``member`` values, as AD's back-link is.  Unique values are
claimed in SQL before they are written (:class:`UniqueClaims`): the server's own check races.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from ldap3 import BASE, LEVEL, MODIFY_REPLACE, SUBTREE

from openmps.directory import filters as f
from openmps.directory.interface import (
    DN_ATTRIBUTES,
    OPERATIONAL_ATTRIBUTES,
    UNIQUE_ATTRIBUTES,
    Change,
    ChangeOp,
    Entry,
    Scope,
    normalize_value,
)
from openmps.directory.ldap.connection import LdapConnection, LdapRefused, mapped, names_nothing
from openmps.directory.ldap.journal import (
    REFUSED,
    Intents,
    Step,
    add_step,
    apply,
    delete_step,
    modify_step,
    move_step,
    password_step,
    reanimate_step,
)
from openmps.directory.ldap.servers import OPENLDAP, Flavour
from openmps.directory.ldap.shared import SHARED_ATTRIBUTES, Generations, SharedEntries
from openmps.directory.ldap.values import BINARY_ATTRIBUTES, ad_dn, decode, encode
from openmps.directory.ldap.wire import add_request, modify_request, send
from openmps.errors import AlreadyExists, ConstraintViolation, InvalidArgument, MpsError, NotEmpty, NotFound
from openmps.types import DN, Secret, fold, new_guid

OnRollback = Callable[[Callable[[], None], str], None]
IDENTITY = frozenset({"objectguid", "objectsid"})
_SCOPES = {Scope.BASE: BASE, Scope.ONELEVEL: LEVEL, Scope.SUBTREE: SUBTREE}
_ALL = "(objectClass=*)"
_NOTHING = "(!(objectClass=*))"
_BATCH = 100  # values in one OR filter: a request of a few kilobytes
_SHARED_KEYS = SHARED_ATTRIBUTES | IDENTITY


class UniqueClaims(Protocol):
    """Who holds each unique value, decided atomically in the request's SQL transaction
    (:mod:`openmps.directory.sql.claims`); values are normalized, attributes lower-cased."""

    def claim(self, dn: DN, attr: str, values: Iterable[str]) -> str | None:
        """None when ``dn`` now holds all ``values``; else the first one another entry holds,
        and nothing claimed."""
        ...

    def release(self, dn: DN, attr: str, values: Iterable[str]) -> None: ...

    def release_all(self, dn: DN) -> None: ...

    def moved(self, dn: DN, new_dn: DN) -> None: ...


class LdapDirectory:
    """A :class:`~openmps.directory.interface.Directory` on an LDAP server under ``root``."""

    def __init__(
        self,
        connection: LdapConnection,
        *,
        root: DN,
        domain_sid: str,
        next_rid: Callable[[], int],
        on_rollback: OnRollback,
        claims: UniqueClaims,
        intents: Intents,
        before_commit: Callable[[Callable[[], None]], None],
        flavour: Flavour = OPENLDAP,
        shared: SharedEntries | None = None,
        generations: Generations | None = None,
    ) -> None:
        self._ldap = connection
        self._root = root
        self._domain_sid = domain_sid
        self._next_rid = next_rid
        self._on_rollback = on_rollback
        self._claims = claims
        self._intents = intents
        # Entries this unit of work read whole (stored attributes; memberOf is always asked) or
        # added: asked again, they are answered from here, as the SQL backend's memo does.  Any
        # undo forgets them all; a write forgets or updates its entry.
        self._memo: dict[DN, Entry] = {}
        self._added: set[DN] = set()  # their prior values are known without a read
        self._flavour = flavour
        self._before_commit = before_commit
        self._passwords: dict[DN, bytes] = {}  # AD passwords to send last (see set_password)
        # what the process keeps across units of work, trusted under the generation (shared.py)
        self._shared = shared if generations is not None else None
        self._generations = generations

    # --- the wire ---------------------------------------------------------------------------------

    def _search(
        self,
        base: DN,
        scope: Scope,
        ldap_filter: str,
        attributes: Sequence[str],
        *,
        limit: int = 0,
        everything: bool = False,
    ) -> list[tuple[DN, dict[str, list[bytes]], dict[str, str]]]:
        """Entries OpenMPS wrote (all the server holds when ``everything``)."""
        text = ldap_filter if everything else self._flavour.visible(ldap_filter)
        wanted = [self._flavour.server_name(a) for a in attributes]
        conn = self._ldap.run(
            base.ldap_path,
            lambda c: c.search(str(base), text, _SCOPES[scope], attributes=wanted, size_limit=limit),
        )
        found = []
        for item in conn.response or ():
            if item.get("type") != "searchResEntry":
                continue
            raw: dict[str, list[bytes]] = {}
            names: dict[str, str] = {}
            for server_name, values in item["raw_attributes"].items():
                name = self._flavour.openmps_name(server_name)
                key = name.lower()
                if key == "memberof":  # AD's back-link: computed here from member values
                    continue
                raw.setdefault(key, []).extend(values)
                names.setdefault(key, name)
            found.append((ad_dn(item["dn"]), raw, names))
        return found

    def _write(self, what: str, operation: Callable[[Any], bool], **fields: Any) -> None:
        try:
            self._ldap.run(what, operation)
        except LdapRefused as refused:
            raise mapped(refused, **fields) from None

    # --- reads ------------------------------------------------------------------------------------

    def _entry(self, dn: DN, raw: Mapping[str, list[bytes]], names: Mapping[str, str]) -> Entry:
        attrs = {key: tuple(decode(key, v) for v in values) for key, values in raw.items()}
        if "objectclass" in attrs:
            attrs["objectclass"] = self._flavour.shown(attrs["objectclass"])
        return Entry(dn, attrs, dict(names))

    def find(self, dn: DN) -> Entry | None:
        entry = self._memo.get(dn) or self._read(dn)
        if entry is None:
            return None
        return _with_member_of(entry, self.member_of(entry.dn))

    def _read(self, dn: DN) -> Entry | None:
        found = self._base(dn, ["*"])
        return None if found is None else self._remember(self._entry(*found))

    def _remember(self, entry: Entry) -> Entry:
        self._memo[entry.dn] = entry
        return entry

    def _base(
        self, dn: DN, attributes: Sequence[str], *, everything: bool = False
    ) -> tuple[DN, dict[str, list[bytes]], dict[str, str]] | None:
        if not dn:
            return None
        try:
            found = self._search(dn, Scope.BASE, _ALL, attributes, everything=everything)
        except LdapRefused as refused:
            if names_nothing(refused):
                return None
            raise mapped(refused, dn=str(dn)) from None
        return found[0] if found else None

    def get(self, dn: DN) -> Entry:
        entry = self.find(dn)
        if entry is None:
            raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
        return entry

    def exists(self, dn: DN) -> bool:
        if dn in self._memo:
            return True
        shared, generations = self._shared, self._generations
        if (
            shared is not None
            and generations is not None
            and shared.get(dn, generations.current()) is not None
        ):
            return True  # kept under the generation in force: a delete since would have renewed it
        return self._base(dn, ["1.1"]) is not None

    def find_many(self, dns: Sequence[DN], *, attributes: Collection[str] | None = None) -> dict[DN, Entry]:
        """One base search for one DN; for more, one search of the naming context for any of
        their DNs (``entryDN``, which slapd answers from its DN index, not by a scan).  Asked only
        for attributes the process keeps (``shared.py``: what authorization reads), the entries
        kept under the current generation are not read again."""
        found = {dn: self._memo[dn] for dn in dns if dn in self._memo}
        missing = [dn for dn in dict.fromkeys(dns) if dn not in found]
        keys = None if attributes is None else {a.lower() for a in attributes} | IDENTITY
        generation: str | None = None
        if missing and keys is not None and keys <= _SHARED_KEYS and self._shared is not None:
            assert self._generations is not None
            generation = self._generations.current()  # before the server is read: see shared.py
            kept = {dn: self._shared.get(dn, generation) for dn in missing}
            found.update((dn, entry) for dn, entry in kept.items() if entry is not None)
            # none outside the naming context is ever found, so none is ever kept
            missing = [dn for dn, entry in kept.items() if entry is None and dn and dn.is_within(self._root)]
        read = self._read_many(missing)
        found.update(read)
        if generation is not None and self._shared is not None:
            for entry in read.values():
                self._shared.put(_only(entry, _SHARED_KEYS), generation)
        if keys is None:
            return found
        return {dn: _only(entry, keys) for dn, entry in found.items()}

    def _read_many(self, dns: Sequence[DN]) -> dict[DN, Entry]:
        found: dict[DN, Entry] = {}
        if len(dns) == 1:
            entry = self._read(dns[0])
            if entry is not None:
                found[entry.dn] = entry
        elif dns:
            within = [str(dn) for dn in dns if dn and dn.is_within(self._root)]
            for text in self._any_of(self._dn_attr, within):
                for hit in self._in_root(text, ["*"]):
                    found[hit[0]] = self._remember(self._entry(*hit))
        return found

    @property
    def _dn_attr(self) -> str:
        """The attribute holding an entry's own DN: AD's ``distinguishedName``, OpenLDAP's
        operational ``entryDN``."""
        return "distinguishedName" if self._flavour.assigns_identity else "entryDN"

    def _any_of(self, attr: str, values: Sequence[str]) -> Iterator[str]:
        """Filters matching ``attr`` equal to any of ``values``, a bounded number in each."""
        for start in range(0, len(values), _BATCH):
            chunk = values[start : start + _BATCH]
            yield "(|" + "".join(f.render(f.eq(attr, v)) for v in chunk) + ")"

    def _in_root(
        self, text: str, attributes: Sequence[str], *, limit: int = 0
    ) -> list[tuple[DN, dict[str, list[bytes]], dict[str, str]]]:
        """The entries of the naming context matching ``text``; none while it does not exist."""
        try:
            return self._search(self._root, Scope.SUBTREE, text, attributes, limit=limit)
        except LdapRefused as refused:
            if refused.code == 32:
                return []
            raise mapped(refused, dn=str(self._root)) from None

    def search(
        self,
        base: DN,
        scope: Scope = Scope.SUBTREE,
        filter: f.Filter | None = None,
        *,
        limit: int | None = None,
    ) -> list[Entry]:
        text = _ALL if filter is None else self._render(filter)
        try:
            found = self._search(base, scope, text, ["*"])
        except LdapRefused as refused:
            if names_nothing(refused):
                raise NotFound(f"no such object: {base.ldap_path}", dn=str(base)) from None
            raise mapped(refused, dn=str(base)) from None
        found.sort(key=lambda item: len(item[0]))  # parents first
        if limit is not None:
            found = found[:limit]
        entries = [self._remember(self._entry(*item)) for item in found]
        lazy = _ListingGroups(self._groups_of, [e.dn for e in entries])
        return [
            Entry(e.dn, _WithMemberOf(e.attributes, e.dn, lazy), {**e.names, "memberof": "memberOf"})
            for e in entries
        ]

    def _render(self, node: f.Filter) -> str:
        """Filter text for the server: binary attributes' values as octets, ``distinguishedName``
        as the server's ``entryDN``, and ``memberOf`` (a back-link no server stores here) as the
        group's members."""
        if isinstance(node, f.And | f.Or) and not node.items:  # RFC 4526's absolute true and false
            return _ALL if isinstance(node, f.And) else _NOTHING
        if isinstance(node, f.And):
            return "(&" + "".join(self._render(i) for i in node.items) + ")"
        if isinstance(node, f.Or):
            return "(|" + "".join(self._render(i) for i in node.items) + ")"
        if isinstance(node, f.Not):
            return "(!" + self._render(node.item) + ")"
        if self._flavour.server_name(node.attr) != node.attr:
            node = dataclasses.replace(node, attr=self._flavour.server_name(node.attr))
        key = node.attr.lower()
        if key == "memberof":
            return self._member_of_filter(node)
        if key == "distinguishedname" and not self._flavour.assigns_identity:
            if isinstance(node, f.Present):
                return _ALL
            if isinstance(node, f.Equal):
                return _dn_equal(node.value, self._flavour.dn_attribute)
            return _NOTHING
        if key in BINARY_ATTRIBUTES and isinstance(node, f.Equal):
            try:
                octets = encode(key, node.value)
            except InvalidArgument:
                return _NOTHING
            return f"({node.attr}=" + "".join(f"\\{b:02x}" for b in octets) + ")"
        if isinstance(node, f.Approx) and not self._flavour.approximate:
            return f.render(f.Equal(node.attr, node.value))
        return f.render(node)

    def _member_of_filter(self, node: f.Filter) -> str:
        if isinstance(node, f.Present):
            groups = self._in_root("(member=*)", ["member"])
            members = {v for _dn, raw, _n in groups for v in raw.get("member", [])}
        elif isinstance(node, f.Equal):
            try:
                group = self._base(DN.parse(node.value), ["member"])
            except InvalidArgument:
                return _NOTHING
            members = set(group[1].get("member", [])) if group else set()
        else:
            return _NOTHING
        if not members:
            return _NOTHING
        return (
            "(|" + "".join(_dn_equal(m.decode(), self._flavour.dn_attribute) for m in sorted(members)) + ")"
        )

    def member_of(self, dn: DN) -> list[DN]:
        return [item[0] for item in self._in_root(f.render(f.eq("member", str(dn))), ["1.1"])]

    def _groups_of(self, dns: Sequence[DN]) -> dict[DN, list[DN]]:
        """The groups of each of ``dns``, from one search for groups holding any of them (their
        ``member`` values tell which): a listing costs one round trip, not one per entry."""
        groups: dict[DN, dict[DN, None]] = {dn: {} for dn in dns}
        if len(dns) == 1:
            groups[dns[0]] = dict.fromkeys(self.member_of(dns[0]))
            return {dn: list(found) for dn, found in groups.items()}
        by_norm = {dn.norm: dn for dn in dns}
        for text in self._any_of("member", [str(dn) for dn in dns]):
            for group, raw, _names in self._in_root(text, ["member"]):
                for value in raw.get("member", []):
                    member = by_norm.get(DN.parse(value.decode()).norm)
                    if member is not None:
                        groups[member][group] = None
        return {dn: list(found) for dn, found in groups.items()}

    def holder(self, attr: str, value: str) -> DN | None:
        hit = self._holder(attr, value, ["1.1"])
        return hit.dn if hit else None

    def find_holder(self, attr: str, value: str, *, attributes: Collection[str]) -> Entry | None:
        return self._holder(attr, value, sorted({*attributes, "objectGUID", "objectSid"}))

    def _holder(self, attr: str, value: str, attributes: Sequence[str]) -> Entry | None:
        found = self._in_root(self._held(attr, value), attributes, limit=1)
        return self._entry(*found[0]) if found else None

    def _held(self, attr: str, value: str) -> str:
        """The filter matching an entry holding ``value`` in ``attr``."""
        text = f.render(f.eq(attr, value))
        if self._flavour.checked_unique and fold(value) != value:  # AD matches case, not width
            text = f"(|{text}{f.render(f.eq(attr, fold(value)))})"
        return text

    def token_groups(self, dn: DN) -> frozenset[str]:
        """One search per level of nesting: the groups holding any DN of the level, with their SIDs."""
        sids: dict[DN, str] = {}
        level = [dn]
        while level:
            found = []
            for text in self._any_of("member", [str(d) for d in level]):
                for group, raw, _names in self._in_root(text, ["objectSid"]):
                    if group != dn and group not in sids:
                        sids[group] = next((decode("objectsid", v) for v in raw.get("objectsid", [])), "")
                        found.append(group)
            level = found
        return frozenset(sid for sid in sids.values() if sid)

    # --- writes -----------------------------------------------------------------------------------

    def set_password(self, dn: DN, password: Secret) -> None:
        """AD: unicodePwd, the password quoted in UTF-16LE, which AD takes over TLS only and never
        shows, so a change of it cannot be undone: it is sent as the request's last write, just
        before its SQL commit (``before_commit``), once every other step has succeeded; a request
        or ``<try>`` that fails before then sends nothing and the old password still binds."""
        attribute = self._flavour.password_attribute
        if attribute is None:
            return  # the userPassword hash OpenMPS stored binds
        if not self._passwords:
            self._before_commit(self._send_passwords)
        value = f'"{password.reveal()}"'.encode("utf-16-le")
        earlier = self._passwords.get(dn)
        self._passwords[dn] = value

        def cancel() -> None:  # a savepoint's rollback: the password set before it, if any
            if earlier is None:
                self._passwords.pop(dn, None)
            else:
                self._passwords[dn] = earlier

        self._on_rollback(cancel, f"password of {dn.ldap_path}")

    def _send_passwords(self) -> None:
        """In the order they were set, each journaled as reset to an unknown password: should a
        later one be refused (or the commit fail, or the process die before it), the passwords sent
        before it do not stay as the failed request set them; its error names those accounts."""
        attribute = str(self._flavour.password_attribute)
        sent: list[DN] = []
        held, self._passwords = self._passwords, {}
        for dn, value in held.items():
            change = {attribute: [(MODIFY_REPLACE, [value])]}
            label = f"password of {dn.ldap_path}"

            def send(dn: DN = dn, change: Any = change) -> None:
                self._write(dn.ldap_path, lambda c: c.modify(str(dn), change), dn=str(dn))

            try:
                self._journaled(label, password_step(str(dn), attribute), send, kept=False)
            except MpsError as error:
                if sent:
                    reset = ", ".join(d.ldap_path for d in sent)
                    error.description += f"; the passwords sent before it are reset to unknown ones: {reset}"
                    error.args = (error.description,)
                raise
            sent.append(dn)

    def _passwords_moved(self, dn: DN, new_dn: DN | None) -> None:
        """The passwords waiting for ``dn`` and its subtree follow it (None: deleted, dropped)."""
        held = [d for d in self._passwords if d.is_within(dn)]
        if not held:
            return
        before = dict(self._passwords)
        for old in held:
            value = self._passwords.pop(old)
            if new_dn is not None:
                self._passwords[DN(old.rdns[: len(old) - len(dn)] + new_dn.rdns)] = value

        def back() -> None:  # the delete or move undone: its passwords wait where they were
            self._passwords.clear()
            self._passwords.update(before)

        self._on_rollback(back, f"passwords below {dn.ldap_path}")

    def add(self, dn: DN, attributes: Mapping[str, Iterable[str]]) -> Entry:
        if not dn:
            raise InvalidArgument("the root DN cannot be added")
        if not dn.is_within(self._root):  # the server holds no other naming context
            raise NotFound(f"the parent of {dn.ldap_path} does not exist", dn=str(dn.parent))
        attrs, names = _values(attributes)
        for key in IDENTITY:
            if len(attrs.get(key, ())) > 1:
                raise InvalidArgument(f"'{names[key]}' takes exactly one value")
        if not self._flavour.assigns_identity:
            attrs.setdefault("objectguid", [new_guid()])
            names.setdefault("objectguid", "objectGUID")
            if "objectsid" not in attrs:
                attrs["objectsid"] = [f"{self._domain_sid}-{self._next_rid()}"]
                names["objectsid"] = "objectSid"
        attrs = self._flavour.adapted(attrs)
        self._check_unique(dn, attrs, names)
        # AD's domain root, and its own principals the bootstrap names by their SIDs, are there already
        adopting = (
            self._flavour.marker is not None
            and (dn == self._root or bool(IDENTITY.intersection(attrs)))
            and self._base(dn, ["1.1"], everything=True) is not None
        )
        if adopting and self.exists(dn):
            raise AlreadyExists(f"the object {dn.ldap_path} already exists", dn=str(dn))
        if not adopting:
            if self._flavour.assigns_identity:
                self._refuse_given_identity(attrs, names)
            self._refuse_look_alike(dn)
        claimed = self._claim(dn, {k: ([], vs) for k, vs in attrs.items()}, names)
        try:
            adopting = adopting or not self._add_new(dn, attrs, names)
            if adopting:
                self._adopt(dn, attrs, names)
        except BaseException as refused:
            self._unclaim(dn, claimed)
            if isinstance(refused, NotFound):
                raise NotFound(f"the parent of {dn.ldap_path} does not exist", dn=str(dn.parent)) from None
            if isinstance(refused, AlreadyExists):
                raise AlreadyExists(f"the object {dn.ldap_path} already exists", dn=str(dn)) from None
            if isinstance(refused, ConstraintViolation):
                raise self._unique_refusal(dn, attrs, names, refused) from None
            raise
        if adopting:
            return self.find_many([dn], attributes=()).get(dn) or Entry(dn, {})
        self._added.add(dn)
        if self._flavour.assigns_identity:
            return self.find_many([dn], attributes=()).get(dn) or Entry(dn, {})
        shown = {k: tuple(vs) for k, vs in attrs.items()}
        shown["objectclass"] = self._flavour.shown(shown.get("objectclass", ()))
        self._remember(Entry(dn, shown, names))
        return Entry(
            dn,
            {"objectguid": tuple(attrs["objectguid"]), "objectsid": tuple(attrs["objectsid"])},
            {"objectguid": "objectGUID", "objectsid": "objectSid"},
        )

    def _add_new(self, dn: DN, attrs: Mapping[str, list[str]], names: Mapping[str, str]) -> bool:
        """Send the add; False when AD refused it for its own entry standing at ``dn`` unseen
        (one to take over)."""
        wire = {
            self._flavour.server_name(names.get(k, k)): [encode(k, v) for v in vs] for k, vs in attrs.items()
        }
        request = add_request(str(dn), wire)
        try:
            self._journaled(
                f"add {dn.ldap_path}",
                delete_step(str(dn), groups=str(self._root)),
                lambda: self._write(dn.ldap_path, lambda c: send(c, "addRequest", request), dn=str(dn)),
                kept=False,  # an entry is kept once read; none is at a DN where none was
            )
        except AlreadyExists:
            if self._flavour.marker is None or self.exists(dn):
                raise
            text = _dn_equal(str(dn), self._flavour.dn_attribute)
            if (
                not self._search(dn.parent, Scope.ONELEVEL, text, ["1.1"], everything=True)
                # a naming context's head (AD's CN=Configuration) is a referral one level up
                and self._base(dn, ["1.1"], everything=True) is None
            ):
                raise ConstraintViolation(  # AD: a taken account name, or a name its own entry holds
                    f"the server refused {dn.ldap_path}: a name or value of it is already in use", dn=str(dn)
                ) from None
            return False
        return True

    def _claim(
        self, dn: DN, changes: Mapping[str, tuple[Sequence[str], Sequence[str]]], names: Mapping[str, str]
    ) -> dict[str, tuple[set[str], set[str]]]:
        """Claim the unique values ``dn`` gains and release those it loses (``changes``: attribute →
        (values before, values after)); what was done, for :meth:`_unclaim` when the write fails.
        ConstraintViolation, and nothing changed, when another entry holds a value."""
        done: dict[str, tuple[set[str], set[str]]] = {}
        for key, (before, after) in changes.items():
            if key not in UNIQUE_ATTRIBUTES:
                continue
            old = {normalize_value(key, v) for v in before}
            new = {normalize_value(key, v) for v in after}
            taken = self._claims.claim(dn, key, sorted(new - old))
            if taken is not None:
                self._unclaim(dn, done)
                value = next(v for v in after if normalize_value(key, v) == taken)
                name = names.get(key, key)
                raise ConstraintViolation(f"{name} '{value}' is already in use", attr=name, value=value)
            self._claims.release(dn, key, sorted(old - new))
            done[key] = (new - old, old - new)
        return done

    def _unclaim(self, dn: DN, done: Mapping[str, tuple[set[str], set[str]]]) -> None:
        for key, (claimed, released) in done.items():
            self._claims.release(dn, key, sorted(claimed))
            self._claims.claim(dn, key, sorted(released))

    def _adopt(self, dn: DN, attrs: Mapping[str, list[str]], names: Mapping[str, str]) -> None:
        """Take over the server's own entry at ``dn`` (AD's domain root, its ``CN=Users``): mark
        it and write the attributes given, journaled as a modify is; given identities must be its."""
        hit = self._search(dn, Scope.BASE, _ALL, ["*"], everything=True)
        if not hit:
            raise AlreadyExists(f"the object {dn.ldap_path} already exists", dn=str(dn))
        prior = self._entry(*hit[0])
        for key in IDENTITY:
            for value in attrs.get(key, ()):
                if normalize_value(key, value) != normalize_value(key, prior.first(key) or ""):
                    raise InvalidArgument(
                        f"{dn.ldap_path} is the server's own entry, whose {names[key]} is "
                        f"{prior.first(key)}, not {value}",
                        attr=names[key],
                    )
        rdn_key = dn.rdns[0][0][0].lower() if dn.rdns and dn.rdns[0] else ""
        writable = {
            k: v
            for k, v in attrs.items()
            if k not in IDENTITY
            and k != "objectclass"
            and k != rdn_key
            and k not in self._flavour.server_owned
        }
        marker = str(self._flavour.marker)
        wire: dict[str, list[tuple[str, list[bytes]]]] = {"objectClass": [("MODIFY_ADD", [marker.encode()])]}
        inverse: dict[str, list[tuple[str, list[bytes]]]] = {}
        for key, values in writable.items():
            name = self._flavour.server_name(names.get(key, key))
            wire[name] = [("MODIFY_REPLACE", [encode(key, v) for v in values])]
            inverse[name] = _restore(key, prior.get(key))
        inverse["objectClass"] = [("MODIFY_DELETE", [marker.encode()])]
        self._memo.pop(dn, None)
        self._journaled(
            f"take over {dn.ldap_path}",
            modify_step(str(dn), inverse),
            lambda: self._raw_modify(dn, wire),
            kept=True,
        )

    def _refuse_given_identity(self, attrs: Mapping[str, list[str]], names: Mapping[str, str]) -> None:
        """AD assigns objectGUID and objectSid itself and refuses given ones: say which."""
        for key in sorted(IDENTITY.intersection(attrs)):
            value = attrs[key][0]
            if self._search(self._root, Scope.SUBTREE, self._render(f.eq(key, value)), ["1.1"], limit=1):
                raise ConstraintViolation(
                    f"{names[key]} '{value}' is already in use", attr=names[key], value=value
                )
            raise InvalidArgument(
                f"{names[key]} is assigned by the directory server and cannot be given", attr=names[key]
            )

    def _refuse_look_alike(self, dn: DN) -> None:
        """AlreadyExists for a sibling whose name folds to the same (full-width, compatibility
        forms), where the server compares names by case only."""
        value = dn.rdn_value
        if self._flavour.marker is None or fold(value) == value.casefold() or not dn.parent:
            return
        text = f.render(f.eq("name", fold(value)))
        for sibling, _raw, _names in self._search(dn.parent, Scope.ONELEVEL, text, ["1.1"], everything=True):
            if sibling == dn:
                raise AlreadyExists(f"the object {dn.ldap_path} already exists", dn=str(sibling))

    def _check_unique(self, dn: DN, attrs: Mapping[str, Iterable[str]], names: Mapping[str, str]) -> None:
        """Refuse a value of a unique attribute another entry holds, where the server does not.
        One search asks whether another entry holds any of them; only then is each looked up, to
        name the one it holds."""
        held = [
            (key, value) for key in self._flavour.checked_unique.intersection(attrs) for value in attrs[key]
        ]
        if len(held) > 1:
            text = "(|" + "".join(self._held(key, value) for key, value in held) + ")"
            if all(hit[0] == dn for hit in self._in_root(text, ["1.1"], limit=2)):  # dn itself, once
                return
        for key, value in held:
            holder = self.holder(key, value)
            if holder is not None and holder != dn:
                raise ConstraintViolation(
                    f"{names.get(key, key)} '{value}' is already in use",
                    attr=names.get(key, key),
                    value=value,
                )

    def _unique_refusal(
        self, dn: DN, attrs: Mapping[str, list[str]], names: Mapping[str, str], refused: ConstraintViolation
    ) -> ConstraintViolation:
        """The server's constraint refusal as the value another entry holds, when one does; else
        the server's own words (a single-valued attribute given two values, …)."""
        for key, values in attrs.items():
            if key in UNIQUE_ATTRIBUTES:
                for value in values:
                    if self.holder(key, value) not in (None, dn):
                        return ConstraintViolation(
                            f"{names[key]} '{value}' is already in use", attr=names[key], value=value
                        )
        return refused

    def modify(self, dn: DN, changes: Sequence[Change]) -> None:
        """The prior values of the attributes a change replaces or deletes from are read first (the
        inverse restores them).  An attribute whose changes only add values, or delete given DNs
        (a group's members), is undone value by value, and not read where the server refuses a
        value it already has or lacks (a big group's members are never all read; on AD, a member
        added)."""
        changes = self._renamed(dn, changes)
        known = self._memo.get(dn) if dn in self._added else None  # all of it is ours
        read = {c.attr.lower(): c.attr for c in changes if known is not None or not self._refused(c)}
        added_only = {c.attr.lower() for c in changes} - set(read)
        undo: dict[str, list[tuple[str, list[bytes]]]] = {}  # of those, value by value, last first
        if known is not None:
            entry = known
        elif read:
            prior = self._base(dn, sorted(read.values()))
            if prior is None:
                raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
            entry = self._entry(*prior)
        else:
            entry = Entry(dn, {})
        current = {k: list(v) for k, v in entry.attributes.items()}
        wire: dict[str, list[tuple[str, list[bytes]]]] = {}
        touched: dict[str, str] = {}
        for change in changes:
            key = change.attr.lower()
            if key in OPERATIONAL_ATTRIBUTES or key in IDENTITY:
                raise InvalidArgument(f"the attribute '{change.attr}' cannot be modified", attr=change.attr)
            values, _names = _values({change.attr: change.values})
            new = values.get(key, [])
            have = current.get(key, [])
            have_norm = [normalize_value(key, v) for v in have]
            if change.op is ChangeOp.ADD:
                for value in new if key in read else ():
                    if normalize_value(key, value) in have_norm:
                        raise AlreadyExists(
                            f"{dn.ldap_path} already has the value '{value}' in '{change.attr}'",
                            attr=change.attr,
                            value=value,
                        )
                current[key] = have + new
                op = "MODIFY_ADD"
            elif key not in read:  # delete given DNs
                op = "MODIFY_DELETE"
            elif change.op is ChangeOp.DELETE and new:
                for value in new:
                    if normalize_value(key, value) not in have_norm:
                        raise ConstraintViolation(
                            f"cannot delete '{value}' from '{change.attr}': {dn.ldap_path} does not have it",
                            attr=change.attr,
                            value=value,
                        )
                gone = {normalize_value(key, v) for v in new}
                current[key] = [v for v in have if normalize_value(key, v) not in gone]
                op = "MODIFY_DELETE"
            elif change.op is ChangeOp.DELETE:
                if not have:
                    continue
                current[key] = []
                op = "MODIFY_DELETE"
            else:
                if not new and not have:
                    continue
                current[key] = new
                op = "MODIFY_REPLACE"
            touched.setdefault(key, change.attr)
            encoded = [encode(key, v) for v in new]
            wire.setdefault(self._flavour.server_name(change.attr), []).append((op, encoded))
            if _by_value(change):
                back = "MODIFY_DELETE" if op == "MODIFY_ADD" else "MODIFY_ADD"
                undo.setdefault(key, []).insert(0, (back, encoded))
        if not wire:
            return
        self._check_unique(dn, {k: current[k] for k in touched if current.get(k)}, touched)
        # undone value by value where every change only adds or deletes given DNs, even when read
        # (AD): restoring the values read would drop what other requests added meanwhile (a
        # group's members), and name members they have deleted since, which AD refuses
        by_value = {k for k in touched if all(_by_value(c) for c in changes if c.attr.lower() == k)}
        inverse = {
            self._flavour.server_name(name): undo[key] if key in by_value else _restore(key, entry.get(key))
            for key, name in touched.items()
        }
        claimed = self._claim(dn, {k: (entry.get(k), current.get(k, [])) for k in touched}, touched)
        self._memo.pop(dn, None)
        try:
            self._journaled(
                f"modify {dn.ldap_path}",
                modify_step(str(dn), inverse),
                lambda: self._raw_modify(dn, wire),
                kept=not SHARED_ATTRIBUTES.isdisjoint(touched),
                # an entry this unit added is deleted by a recovery, which undoes this too, and
                # taken out of its groups first, which undoes its joins: the inverse of either
                # need not be on disk first (one sync less for each such modify)
                durable=dn not in self._added and not _joins(changes, self._added),
            )
        except BaseException as refused:
            self._added.discard(dn)
            self._unclaim(dn, claimed)
            absent = (
                self._absent(dn, changes, added_only) if isinstance(refused, ConstraintViolation) else None
            )
            if absent is not None:
                raise absent from None
            if isinstance(refused, AlreadyExists) and added_only:
                raise self._value_refusal(
                    dn, {k: current[k] for k in added_only if k in current}, touched
                ) from None
            if isinstance(refused, ConstraintViolation):
                added = {k: v for k, v in current.items() if k in touched}
                raise self._unique_refusal(dn, added, {k: touched[k] for k in added}, refused) from None
            raise
        if known is not None:
            attrs = {k: tuple(v) for k, v in current.items() if v}
            self._remember(Entry(dn, attrs, {**touched, **known.names}))

    def _refused(self, change: Change) -> bool:
        """Whether the server itself refuses ``change`` where it would add a value the attribute
        holds or delete one it lacks, so the prior values need not be read to refuse it."""
        if not _by_value(change):
            return False
        return self._flavour.refuses_equal_values or (
            change.op is ChangeOp.ADD and change.attr.lower() in self._flavour.refuses_added_values_of
        )

    def _renamed(self, dn: DN, changes: Sequence[Change]) -> Sequence[Change]:
        """Where the server refuses a modify of the RDN attribute (AD), a replace of it by the same
        name in another case is sent as a rename (journaled as a move), and by the entry's own
        value dropped; the other changes are left to the modify."""
        if not self._flavour.renames_rdn or not dn:
            return changes
        rdn_attr = dn.rdns[0][0][0]
        rest = []
        for change in changes:
            value = change.values[0] if change.op is ChangeOp.REPLACE and len(change.values) == 1 else None
            if change.attr.lower() != rdn_attr.lower() or value is None or fold(value) != fold(dn.rdn_value):
                rest.append(change)
            elif value != dn.rdn_value:
                new_dn = dn.parent.child(rdn_attr, value)
                self._memo.clear()
                self._added.clear()
                self._journaled(
                    f"rename {dn.ldap_path}",
                    move_step(str(new_dn), *_move(new_dn, dn)),
                    functools.partial(self._raw_move, dn, new_dn),
                    kept=True,
                )
        return rest

    def _absent(self, dn: DN, changes: Sequence[Change], keys: Collection[str]) -> ConstraintViolation | None:
        """The error naming a DN to delete that ``dn`` did not hold, if one was (the server only
        says a value was missing)."""
        if not any(c.op is ChangeOp.DELETE and c.attr.lower() in keys for c in changes):
            return None
        hit = self._base(dn, sorted({c.attr for c in changes if c.attr.lower() in keys}))
        have = {} if hit is None else self._entry(*hit).attributes
        for change in changes:
            key = change.attr.lower()
            if key in keys and change.op is ChangeOp.DELETE:
                held = {normalize_value(key, v) for v in have.get(key, ())}
                for value in change.values:
                    if normalize_value(key, value) not in held:
                        return ConstraintViolation(
                            f"cannot delete '{value}' from '{change.attr}': {dn.ldap_path} does not have it",
                            attr=change.attr,
                            value=value,
                        )
        return None

    def _value_refusal(
        self, dn: DN, added: Mapping[str, list[str]], names: Mapping[str, str]
    ) -> AlreadyExists:
        """The error naming which added value ``dn`` already had (the server says only that one did)."""
        hit = self._base(dn, sorted(names[k] for k in added))
        have = {} if hit is None else self._entry(*hit).attributes
        for key, values in added.items():
            held = {normalize_value(key, v) for v in have.get(key, ())}
            for value in values:
                if normalize_value(key, value) in held:
                    return AlreadyExists(
                        f"{dn.ldap_path} already has the value '{value}' in '{names[key]}'",
                        attr=names[key],
                        value=value,
                    )
        return AlreadyExists(f"{dn.ldap_path} already has a value it was given", dn=str(dn))

    def _journaled(
        self, label: str, inverse: Step, send: Callable[[], None], *, kept: bool, durable: bool = True
    ) -> None:
        """Send a write whose ``inverse`` the unit of work and the intent log hold first: a failed
        request undoes it, unless the server refused it (a write whose answer was lost may have
        been applied); a process that dies before its commit has it undone at the next start.
        ``kept``: the write may change what processes keep across requests (``shared.py``), so
        it renews the directory's generation in this unit's transaction.  ``durable``: the
        inverse must be on disk before the write is sent (see ``modify``)."""
        sent = _Sent()
        self._intents.record(inverse, durable=durable)
        self._on_rollback(lambda: sent.undo(lambda: self._undo(inverse)), label)
        try:
            if kept and self._generations is not None:
                self._generations.bump()
            send()
        except BaseException:
            sent.refused = True
            self._intents.record(REFUSED)  # nor undone by a recovery
            raise

    def _undo(self, inverse: Step) -> None:
        self._memo.clear()
        self._added.clear()
        if self._generations is not None:  # any undo: an entry added and kept is deleted here
            self._generations.undone()
        apply(self._ldap, inverse)

    def _raw_modify(self, dn: DN, wire: Mapping[str, list[tuple[str, list[bytes]]]]) -> None:
        request = modify_request(str(dn), wire)
        self._write(dn.ldap_path, lambda c: send(c, "modifyRequest", request), dn=str(dn))

    def _raw_delete(self, dn: DN) -> None:
        self._write(dn.ldap_path, lambda c: c.delete(str(dn)), dn=str(dn))

    def delete(self, dn: DN) -> None:
        prior = self._base(dn, ["*"])
        if prior is None:
            raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
        if self._search(dn, Scope.ONELEVEL, _ALL, ["1.1"], limit=1):
            raise NotEmpty(f"{dn.ldap_path} has children and cannot be deleted", dn=str(dn))
        for group in self.member_of(dn):
            self.modify(group, [Change.delete("member", str(dn))])
        _dn, raw, names = prior
        wire = {
            self._flavour.server_name(names[k]): values
            for k, values in raw.items()
            if k not in self._flavour.server_owned
        }
        inverse = add_step(str(dn), wire)
        if self._flavour.reanimates:  # back from its tombstone, with its objectGUID and objectSid
            rdn_attr = dn.rdns[0][0][0].lower()
            kept = {n: v for n, v in wire.items() if n.lower() not in ("objectclass", rdn_attr)}
            inverse = reanimate_step(str(dn), self._entry(*prior).guid, kept)
        self._memo.pop(dn, None)
        self._added.discard(dn)
        self._journaled(f"delete {dn.ldap_path}", inverse, lambda: self._raw_delete(dn), kept=True)
        self._claims.release_all(dn)
        self._passwords_moved(dn, None)

    def move(self, dn: DN, new_dn: DN) -> None:
        if new_dn.is_within(dn, strict=True):
            raise InvalidArgument(f"cannot move {dn.ldap_path} below itself")
        if not self.exists(dn):
            raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
        if self.exists(new_dn):
            raise AlreadyExists(f"the object {new_dn.ldap_path} already exists", dn=str(new_dn))
        if not self.exists(new_dn.parent):
            raise NotFound(f"the parent of {new_dn.ldap_path} does not exist", dn=str(new_dn.parent))
        self._refuse_look_alike(new_dn)
        subtree = [item[0] for item in self._search(dn, Scope.SUBTREE, _ALL, ["1.1"])]
        self._memo.clear()
        self._added.clear()
        self._journaled(
            f"move {dn.ldap_path}",
            move_step(str(new_dn), *_move(new_dn, dn)),
            lambda: self._raw_move(dn, new_dn),
            kept=True,
        )
        self._passwords_moved(dn, new_dn)
        depth = len(dn)
        for old in subtree:
            moved = DN(old.rdns[: len(old) - depth] + new_dn.rdns)
            self._claims.moved(old, moved)
            if self._flavour.follows_links:  # the server renamed the member values itself
                continue
            for group in self.member_of(old):
                self.modify(group, [Change.delete("member", str(old)), Change.add("member", str(moved))])

    def _raw_move(self, dn: DN, new_dn: DN) -> None:
        rdn, superior = _move(dn, new_dn)
        self._write(
            dn.ldap_path,
            lambda c: c.modify_dn(str(dn), rdn, delete_old_dn=True, new_superior=superior),
            dn=str(dn),
        )


class _ListingGroups:
    """The groups of a listing's entries, found by one search the first time any entry's memberOf
    is asked (a listing that shows none of them costs no search)."""

    def __init__(self, groups_of: Callable[[Sequence[DN]], dict[DN, list[DN]]], dns: Sequence[DN]) -> None:
        self._groups_of = groups_of
        self._dns = dns
        self._found: dict[DN, tuple[str, ...]] | None = None

    def of(self, dn: DN) -> tuple[str, ...]:
        if self._found is None:
            self._found = {d: tuple(str(g) for g in gs) for d, gs in self._groups_of(self._dns).items()}
        return self._found.get(dn, ())


class _WithMemberOf(Mapping[str, tuple[str, ...]]):
    """An entry's stored attributes and its memberOf, the latter from its listing's one search."""

    def __init__(self, stored: Mapping[str, tuple[str, ...]], dn: DN, groups: _ListingGroups) -> None:
        self._stored = stored
        self._dn = dn
        self._groups = groups

    def __getitem__(self, key: str) -> tuple[str, ...]:
        if key == "memberof" and key not in self._stored:  # a server that stores it answers it
            found = self._groups.of(self._dn)
            if not found:
                raise KeyError(key)
            return found
        return self._stored[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._stored
        if "memberof" not in self._stored and self._groups.of(self._dn):
            yield "memberof"

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _move(dn: DN, new_dn: DN) -> tuple[str, str | None]:
    """The new RDN and new parent (None: the same) of a modify DN from ``dn`` to ``new_dn``."""
    return str(DN(new_dn.rdns[:1])), str(new_dn.parent) if dn.parent != new_dn.parent else None


def _by_value(change: Change) -> bool:
    """Whether ``change`` can be sent, and undone, without the attribute's prior values: it adds
    values, or deletes given DNs (compared as DNs by the server: no case or spacing to restore)."""
    if change.op is ChangeOp.ADD:
        return True
    return change.op is ChangeOp.DELETE and bool(change.values) and change.attr.lower() in DN_ATTRIBUTES


def _joins(changes: Sequence[Change], added: set[DN]) -> bool:
    """Whether ``changes`` only add ``member`` values naming entries in ``added`` (which a
    recovery takes out of every group before it deletes them, ``journal.delete_step``)."""
    try:
        return bool(added) and all(
            c.op is ChangeOp.ADD and c.attr.lower() == "member" and {DN.parse(v) for v in c.values} <= added
            for c in changes
        )
    except InvalidArgument:  # not a DN: the server's refusal says so
        return False


def _only(entry: Entry, keys: Collection[str]) -> Entry:
    """``entry`` with only the attributes ``keys`` (lower-cased)."""
    attrs = {k: v for k, v in entry.attributes.items() if k in keys}
    return Entry(entry.dn, attrs, {k: n for k, n in entry.names.items() if k in attrs})


def _with_member_of(entry: Entry, groups: Sequence[DN]) -> Entry:
    if not groups:
        return entry
    attrs = dict(entry.attributes)
    attrs["memberof"] = tuple(str(g) for g in groups)
    return Entry(entry.dn, attrs, {**entry.names, "memberof": "memberOf"})


def _restore(key: str, values: Sequence[str]) -> list[tuple[str, list[bytes]]]:
    """The change that gives ``key`` its ``values`` back: deleted when it had none (AD refuses an
    empty replace of a mandatory attribute, e.g. a user's userPrincipalName once set)."""
    if not values:
        return [("MODIFY_DELETE", [])]
    return [("MODIFY_REPLACE", [encode(key, v) for v in values])]


def _dn_equal(value: str, attribute: str = "entryDN") -> str:
    try:
        return f"({attribute}={f.escape_filter_value(str(DN.parse(value)))})"
    except InvalidArgument:
        return _NOTHING


class _Sent:
    """Whether a journaled write may have reached the server (see ``_journaled``)."""

    refused = False

    def undo(self, inverse: Callable[[], None]) -> None:
        if not self.refused:
            inverse()


def _values(attributes: Mapping[str, Iterable[str]]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Values by lower-cased name, each once (compared as the directory compares), and the first
    spelling of each name; NUL and computed attributes refused."""
    attrs: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    for attr, values in attributes.items():
        key = attr.lower()
        if key in OPERATIONAL_ATTRIBUTES:
            raise InvalidArgument(f"the attribute '{attr}' is computed and cannot be written", attr=attr)
        names.setdefault(key, attr)
        for value in values:
            if not isinstance(value, str) or "\x00" in value:
                raise InvalidArgument(f"the value of '{attr}' must be text without NUL characters", attr=attr)
            norm = normalize_value(key, value)
            if (key, norm) not in seen:
                seen.add((key, norm))
                attrs.setdefault(key, []).append(value)
    return attrs, names


__all__ = ["LdapDirectory"]
