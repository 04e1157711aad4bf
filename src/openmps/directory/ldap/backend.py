"""The directory on an LDAP server (OpenLDAP or Samba AD), through ldap3.

Bound to one unit of work as the SQL backend is, but the server has no transaction to join: every
write registers its inverse with the unit of work's ``on_rollback`` BEFORE it is sent (add →
delete; modify → the prior values of the attributes it changes; delete → the prior entry added
again; move → move back), so a failed request, ``<try>`` or savepoint replays them in reverse.
``memberOf`` is computed from ``member`` values, as AD's back-link is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from ldap3 import BASE, LEVEL, MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, SUBTREE

from openmps.directory import filters as f
from openmps.directory.interface import (
    OPERATIONAL_ATTRIBUTES,
    UNIQUE_ATTRIBUTES,
    Change,
    ChangeOp,
    Entry,
    Scope,
    normalize_value,
)
from openmps.directory.ldap.connection import LdapConnection, LdapRefused, mapped
from openmps.directory.ldap.servers import OPENLDAP, Flavour
from openmps.directory.ldap.values import BINARY_ATTRIBUTES, decode, encode
from openmps.errors import AlreadyExists, ConstraintViolation, InvalidArgument, NotEmpty, NotFound
from openmps.types import DN, Secret, fold, new_guid

OnRollback = Callable[[Callable[[], None], str], None]
IDENTITY = frozenset({"objectguid", "objectsid"})
_SCOPES = {Scope.BASE: BASE, Scope.ONELEVEL: LEVEL, Scope.SUBTREE: SUBTREE}
_OPS = {"MODIFY_ADD": MODIFY_ADD, "MODIFY_DELETE": MODIFY_DELETE, "MODIFY_REPLACE": MODIFY_REPLACE}
_ALL = "(objectClass=*)"
_SHOW_DELETED = ("1.2.840.113556.1.4.417", True, None)  # AD: tombstones are found too
_NOTHING = "(!(objectClass=*))"


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
        flavour: Flavour = OPENLDAP,
    ) -> None:
        self._ldap = connection
        self._root = root
        self._domain_sid = domain_sid
        self._next_rid = next_rid
        self._on_rollback = on_rollback
        self._flavour = flavour

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
            found.append((DN.parse(item["dn"]), raw, names))
        return found

    def _write(self, what: str, operation: Callable[[Any], bool], **fields: Any) -> None:
        try:
            self._ldap.run(what, operation)
        except LdapRefused as refused:
            raise mapped(refused, **fields) from None

    # --- reads ------------------------------------------------------------------------------------

    def _entry(self, dn: DN, raw: Mapping[str, list[bytes]], names: Mapping[str, str]) -> Entry:
        attrs = {key: tuple(decode(key, v) for v in values) for key, values in raw.items()}
        return Entry(dn, attrs, dict(names))

    def find(self, dn: DN) -> Entry | None:
        found = self._base(dn, ["*"])
        if found is None:
            return None
        return self._with_member_of(self._entry(*found))

    def _base(
        self, dn: DN, attributes: Sequence[str], *, everything: bool = False
    ) -> tuple[DN, dict[str, list[bytes]], dict[str, str]] | None:
        if not dn:
            return None
        try:
            found = self._search(dn, Scope.BASE, _ALL, attributes, everything=everything)
        except LdapRefused as refused:
            if refused.code == 32:
                return None
            raise mapped(refused, dn=str(dn)) from None
        return found[0] if found else None

    def get(self, dn: DN) -> Entry:
        entry = self.find(dn)
        if entry is None:
            raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
        return entry

    def exists(self, dn: DN) -> bool:
        return self._base(dn, ["1.1"]) is not None

    def find_many(self, dns: Sequence[DN], *, attributes: Collection[str] | None = None) -> dict[DN, Entry]:
        wanted = ["*"] if attributes is None else sorted({*attributes, "objectGUID", "objectSid"})
        found = {}
        for dn in dns:
            hit = self._base(dn, wanted)
            if hit is not None:
                entry = self._entry(*hit)
                found[entry.dn] = entry
        return found

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
            raise mapped(refused, dn=str(base)) from None
        found.sort(key=lambda item: len(item[0]))  # parents first
        if limit is not None:
            found = found[:limit]
        entries = [self._entry(*item) for item in found]
        return [self._with_member_of(e) for e in entries]

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
            groups = (
                self._search(self._root, Scope.SUBTREE, "(member=*)", ["member"])
                if self.exists(self._root)
                else []
            )
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

    def _with_member_of(self, entry: Entry) -> Entry:
        groups = self.member_of(entry.dn)
        if not groups:
            return entry
        attrs = dict(entry.attributes)
        attrs["memberof"] = tuple(str(g) for g in groups)
        return Entry(entry.dn, attrs, {**entry.names, "memberof": "memberOf"})

    def member_of(self, dn: DN) -> list[DN]:
        if not self.exists(self._root):
            return []
        text = f.render(f.eq("member", str(dn)))
        return [item[0] for item in self._search(self._root, Scope.SUBTREE, text, ["1.1"])]

    def holder(self, attr: str, value: str) -> DN | None:
        hit = self._holder(attr, value, ["1.1"])
        return hit.dn if hit else None

    def find_holder(self, attr: str, value: str, *, attributes: Collection[str]) -> Entry | None:
        return self._holder(attr, value, sorted({*attributes, "objectGUID", "objectSid"}))

    def _holder(self, attr: str, value: str, attributes: Sequence[str]) -> Entry | None:
        if not self.exists(self._root):
            return None
        text = f.render(f.eq(attr, value))
        if self._flavour.checked_unique and fold(value) != value:  # AD matches case, not width
            text = f"(|{text}{f.render(f.eq(attr, fold(value)))})"
        found = self._search(self._root, Scope.SUBTREE, text, attributes, limit=1)
        return self._entry(*found[0]) if found else None

    def token_groups(self, dn: DN) -> frozenset[str]:
        seen: dict[DN, None] = {}
        todo = [dn]
        while todo:
            for group in self.member_of(todo.pop()):
                if group not in seen and group != dn:
                    seen[group] = None
                    todo.append(group)
        sids = set()
        for entry in self.find_many(list(seen), attributes=["objectSid"]).values():
            if entry.sid:
                sids.add(entry.sid)
        return frozenset(sids)

    # --- writes -----------------------------------------------------------------------------------

    def set_password(self, dn: DN, password: Secret) -> None:
        """AD: unicodePwd, the password quoted in UTF-16LE, which AD takes over TLS only and never
        shows; not journaled (nothing to restore it from): the account's add is, and undoes it."""
        attribute = self._flavour.password_attribute
        if attribute is None:
            return  # the userPassword hash OpenMPS stored binds
        value = f'"{password.reveal()}"'.encode("utf-16-le")
        change = {attribute: [(MODIFY_REPLACE, [value])]}
        self._write(dn.ldap_path, lambda c: c.modify(str(dn), change), dn=str(dn))

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
        attrs = self._flavour.adapted(attrs, dn.rdn_value)
        self._check_unique(dn, attrs, names)
        # AD's domain root, and its own principals the bootstrap names by their SIDs, are there already
        if (
            self._flavour.marker is not None
            and (dn == self._root or IDENTITY.intersection(attrs))
            and self._base(dn, ["1.1"], everything=True) is not None
        ):
            if self.exists(dn):
                raise AlreadyExists(f"the object {dn.ldap_path} already exists", dn=str(dn))
            self._adopt(dn, attrs, names)
            return self.find_many([dn], attributes=()).get(dn) or Entry(dn, {})
        if self._flavour.assigns_identity:
            self._refuse_given_identity(attrs, names)
        self._refuse_look_alike(dn)
        wire = {
            self._flavour.server_name(names.get(k, k)): [encode(k, v) for v in vs] for k, vs in attrs.items()
        }
        try:
            self._journaled(
                f"add {dn.ldap_path}",
                lambda: self._raw_delete(dn),
                lambda: self._write(dn.ldap_path, lambda c: c.add(str(dn), attributes=wire), dn=str(dn)),
            )
        except NotFound:
            raise NotFound(f"the parent of {dn.ldap_path} does not exist", dn=str(dn.parent)) from None
        except AlreadyExists:
            if self._flavour.marker is None or self.exists(dn):
                raise AlreadyExists(f"the object {dn.ldap_path} already exists", dn=str(dn)) from None
            if not self._search(
                dn.parent,
                Scope.ONELEVEL,
                _dn_equal(str(dn), self._flavour.dn_attribute),
                ["1.1"],
                everything=True,
            ):
                raise self._unique_refusal(attrs, names) from None  # AD: a taken account name
            self._adopt(dn, attrs, names)
        except ConstraintViolation:
            raise self._unique_refusal(attrs, names) from None
        if self._flavour.assigns_identity:
            return self.find_many([dn], attributes=()).get(dn) or Entry(dn, {})
        return Entry(
            dn,
            {"objectguid": tuple(attrs["objectguid"]), "objectsid": tuple(attrs["objectsid"])},
            {"objectguid": "objectGUID", "objectsid": "objectSid"},
        )

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
        self._journaled(
            f"take over {dn.ldap_path}",
            lambda: self._raw_modify(dn, inverse),
            lambda: self._raw_modify(dn, wire),
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
        """Refuse a value of a unique attribute another entry holds, where the server does not."""
        for key in self._flavour.checked_unique.intersection(attrs):
            for value in attrs[key]:
                holder = self.holder(key, value)
                if holder is not None and holder != dn:
                    raise ConstraintViolation(
                        f"{names.get(key, key)} '{value}' is already in use",
                        attr=names.get(key, key),
                        value=value,
                    )

    def _unique_refusal(
        self, attrs: Mapping[str, list[str]], names: Mapping[str, str]
    ) -> ConstraintViolation:
        for key, values in attrs.items():
            if key in UNIQUE_ATTRIBUTES:
                for value in values:
                    if self.holder(key, value) is not None:
                        return ConstraintViolation(
                            f"{names[key]} '{value}' is already in use", attr=names[key], value=value
                        )
        return ConstraintViolation("a value is already in use")

    def modify(self, dn: DN, changes: Sequence[Change]) -> None:
        prior = self._base(dn, ["*"])
        if prior is None:
            raise NotFound(f"no such object: {dn.ldap_path}", dn=str(dn))
        entry = self._entry(*prior)
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
                for value in new:
                    if normalize_value(key, value) in have_norm:
                        raise AlreadyExists(
                            f"{dn.ldap_path} already has the value '{value}' in '{change.attr}'",
                            attr=change.attr,
                            value=value,
                        )
                current[key] = have + new
                op = "MODIFY_ADD"
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
            wire.setdefault(self._flavour.server_name(change.attr), []).append(
                (op, [encode(key, v) for v in new])
            )
        if not wire:
            return
        self._check_unique(dn, {k: current[k] for k in touched if current.get(k)}, touched)
        inverse = {
            self._flavour.server_name(name): _restore(key, entry.get(key)) for key, name in touched.items()
        }
        try:
            self._journaled(
                f"modify {dn.ldap_path}",
                lambda: self._raw_modify(dn, inverse),
                lambda: self._raw_modify(dn, wire),
            )
        except ConstraintViolation:
            added = {k: v for k, v in current.items() if k in touched}
            raise self._unique_refusal(added, {k: touched[k] for k in added}) from None

    def _journaled(self, label: str, inverse: Callable[[], None], send: Callable[[], None]) -> None:
        """Send a write whose ``inverse`` the unit of work holds first: a failed request undoes
        it, unless the server refused it (a write whose answer was lost may have been applied)."""
        sent = _Sent()
        self._on_rollback(lambda: sent.undo(inverse), label)
        try:
            send()
        except BaseException:
            sent.refused = True
            raise

    def _raw_modify(self, dn: DN, wire: Mapping[str, list[tuple[str, list[bytes]]]]) -> None:
        ops = {n: [(_OPS[op], values) for op, values in changes] for n, changes in wire.items()}
        self._write(dn.ldap_path, lambda c: c.modify(str(dn), ops), dn=str(dn))

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
        if self._flavour.reanimates:  # back from its tombstone, with its objectGUID and objectSid
            guid = self._entry(*prior).guid
            rdn_attr = dn.rdns[0][0][0].lower()
            kept = {
                name: values for name, values in wire.items() if name.lower() not in ("objectclass", rdn_attr)
            }
            undo: Callable[[], None] = lambda: self._reanimate(dn, guid, kept)  # noqa: E731
        else:
            undo = lambda: self._write(dn.ldap_path, lambda c: c.add(str(dn), attributes=wire))  # noqa: E731
        self._journaled(f"delete {dn.ldap_path}", undo, lambda: self._raw_delete(dn))

    def _reanimate(self, dn: DN, guid: str, values: Mapping[str, list[bytes]]) -> None:
        """AD's undelete: the tombstone found by its objectGUID made ``dn`` again with the values
        it lost (AD keeps a few, and refuses some of those in the same modify, e.g.
        userAccountControl); credentials are not kept by AD and do not come back."""
        conn = self._ldap.run(
            f"the deleted {dn.ldap_path}",
            lambda c: c.search(f"<GUID={guid}>", _ALL, BASE, attributes=["*"], controls=[_SHOW_DELETED]),
        )
        found = [item for item in conn.response or () if item.get("type") == "searchResEntry"]
        if not found:
            raise NotFound(f"the deleted {dn.ldap_path} is no longer kept by the server", dn=str(dn))
        tombstone, kept = (
            found[0]["dn"],
            {k.lower(): sorted(v) for k, v in found[0]["raw_attributes"].items()},
        )
        changes: dict[str, list[tuple[Any, list[bytes]]]] = {
            "isDeleted": [(MODIFY_DELETE, [])],
            "distinguishedName": [(MODIFY_REPLACE, [str(dn).encode()])],
        }
        changed = {}
        for name, value in values.items():
            if name.lower() not in kept:
                changes[name] = [(MODIFY_REPLACE, list(value))]
            elif kept[name.lower()] != sorted(value):
                changed[name] = [(MODIFY_REPLACE, list(value))]
        self._write(
            dn.ldap_path, lambda c: c.modify(tombstone, changes, controls=[_SHOW_DELETED]), dn=str(dn)
        )
        if changed:
            self._write(dn.ldap_path, lambda c: c.modify(str(dn), changed), dn=str(dn))

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
        self._journaled(
            f"move {dn.ldap_path}", lambda: self._raw_move(new_dn, dn), lambda: self._raw_move(dn, new_dn)
        )
        if self._flavour.follows_links:
            return
        depth = len(dn)
        for old in subtree:
            moved = DN(old.rdns[: len(old) - depth] + new_dn.rdns)
            for group in self.member_of(old):
                self.modify(group, [Change.delete("member", str(old)), Change.add("member", str(moved))])

    def _raw_move(self, dn: DN, new_dn: DN) -> None:
        rdn = str(DN(new_dn.rdns[:1]))
        superior = str(new_dn.parent) if dn.parent != new_dn.parent else None
        self._write(
            dn.ldap_path,
            lambda c: c.modify_dn(str(dn), rdn, delete_old_dn=True, new_superior=superior),
            dn=str(dn),
        )


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
