"""The Resource Manager's ledger in the SQL store, on the request's connection (same transaction
as the directory).  See ``resources/interface.py`` for the invariants; each is kept by a guarded
``UPDATE … WHERE <invariant still holds>`` with a row-count check, and by CHECK constraints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, exists, func, insert, not_, or_, select, update
from sqlalchemy.exc import IntegrityError

from openmps.db.prepared import Prepared
from openmps.db.schema import rm_allocations, rm_front_ends, rm_mailboxes, rm_stores
from openmps.errors import AlreadyExists, NotEmpty, NotFound, QuotaExceeded
from openmps.resources.interface import KB_PER_MB, MailboxPlace, Store
from openmps.resources.placement import Slot, StoreRoom

# The mailbox path (every mailbox create), run on the DBAPI cursor (db/prepared.py).
_SLOTS = Prepared(
    select(
        rm_allocations.c.store_id,
        rm_allocations.c.allocated_kb,
        rm_allocations.c.used_kb,
        rm_stores.c.store_name,
        rm_stores.c.server_name,
        rm_stores.c.kind,
    )
    .join(rm_stores, rm_stores.c.id == rm_allocations.c.store_id)
    .where(rm_allocations.c.org_guid == bindparam("org"))
    .order_by(rm_allocations.c.store_id)
)
_USE = Prepared(
    update(rm_allocations)
    .where(
        rm_allocations.c.org_guid == bindparam("org"),
        rm_allocations.c.store_id == bindparam("store_id"),
        rm_allocations.c.used_kb + bindparam("kb") <= rm_allocations.c.allocated_kb,
    )
    .values(used_kb=rm_allocations.c.used_kb + bindparam("kb"))
)
_INSERT_MAILBOX = Prepared(
    insert(rm_mailboxes).values(
        {c: bindparam(c) for c in ("mailbox_guid", "org_guid", "store_id", "size_kb")}
    )
)


def _key(kind: str, name: str) -> str:
    return f"{kind}:{name.casefold()}"


_MAX_KB = 2**31 - 1  # capacity_kb is a 32-bit INTEGER column


class SqlResourceLedger:
    """The ledger in the SQL store, on the request's connection (same transaction as the directory)."""

    def __init__(self, connection: Callable[[], Connection]) -> None:
        self._connection = connection

    @property
    def _conn(self) -> Connection:
        return self._connection()

    # --- stores -----------------------------------------------------------------------------------

    def add_store(self, *, kind: str, server: str, name: str, megabytes: int, shared: bool) -> Store:
        try:
            self._conn.execute(
                insert(rm_stores).values(
                    kind=kind,
                    server_name=server,
                    store_name=name,
                    store_key=_key(kind, name),
                    shared=int(shared),
                    capacity_kb=megabytes * KB_PER_MB,
                    allocated_kb=0,
                )
            )
        except IntegrityError as exc:
            raise AlreadyExists(f"the {kind} store '{name}' is already registered", store=name) from exc
        return self.store(kind, name)

    def add_front_end(self, server: str) -> None:
        try:
            self._conn.execute(insert(rm_front_ends).values(server_key=server.casefold(), server_name=server))
        except IntegrityError as exc:
            raise AlreadyExists(
                f"the front-end server '{server}' is already registered", server=server
            ) from exc

    def front_ends(self) -> list[str]:
        rows = self._conn.execute(select(rm_front_ends.c.server_name).order_by(rm_front_ends.c.server_key))
        return [r.server_name for r in rows]

    def stores(self, kind: str | None = None) -> list[Store]:
        condition = rm_stores.c.kind == kind if kind is not None else None
        return self._select_stores(condition)

    def store(self, kind: str, name: str) -> Store:
        found = self._select_stores(rm_stores.c.store_key == _key(kind, name))
        if not found:
            raise NotFound(f"no {kind} store named '{name}' is registered", store=name)
        return found[0]

    def stores_by_id(self, ids: Sequence[int]) -> dict[int, Store]:
        return {s.store_id: s for s in self._select_stores(rm_stores.c.id.in_(list(ids)))}

    def _select_stores(self, condition: Any) -> list[Store]:
        # one grouped join, not a count per store: listings of thousands of stores stay cheap
        count = func.count(rm_allocations.c.id).label("organizations")
        query = (
            select(rm_stores, count)
            .select_from(rm_stores.outerjoin(rm_allocations, rm_allocations.c.store_id == rm_stores.c.id))
            .group_by(rm_stores.c.id)
            .order_by(rm_stores.c.kind, rm_stores.c.store_key)
        )
        if condition is not None:
            query = query.where(condition)
        return [
            Store(
                r.id,
                r.kind,
                r.server_name,
                r.store_name,
                bool(r.shared),
                r.capacity_kb,
                r.allocated_kb,
                r.organizations,
            )
            for r in self._conn.execute(query)
        ]

    def resize_store(self, kind: str, name: str, megabytes: int) -> Store:
        store = self.store(kind, name)
        capacity = megabytes * KB_PER_MB
        changed = self._conn.execute(
            update(rm_stores)
            .where(rm_stores.c.id == store.store_id, rm_stores.c.allocated_kb <= capacity)
            .values(capacity_kb=capacity)
        ).rowcount
        if changed != 1:
            raise QuotaExceeded(
                f"'{name}' cannot shrink to {megabytes} MB: {store.allocated_kb // KB_PER_MB} MB allocated",
                store=name,
            )
        return self.store(kind, name)

    def resize_store_by(self, kind: str, name: str, megabytes: int, *, at_most: int) -> Store:
        store = self.store(kind, name)
        delta = megabytes * KB_PER_MB
        limit = min(at_most * KB_PER_MB, _MAX_KB)
        capacity, allocated = rm_stores.c.capacity_kb, rm_stores.c.allocated_kb
        # every bound on the column's side against a constant: no sum in SQL can pass the column's range
        changed = (
            abs(delta) <= limit
            and self._conn.execute(
                update(rm_stores)
                .where(
                    rm_stores.c.id == store.store_id,
                    capacity - allocated >= -delta,
                    capacity > -delta,
                    capacity <= min(limit - delta, _MAX_KB),
                )
                .values(capacity_kb=capacity + delta)
            ).rowcount
            == 1
        )
        if not changed:
            now = self.store(kind, name)
            raise QuotaExceeded(
                f"'{name}' cannot change by {megabytes} MB: it has {now.capacity_kb // KB_PER_MB} MB, "
                f"{now.allocated_kb // KB_PER_MB} MB allocated",
                store=name,
            )
        return self.store(kind, name)

    def remove_store(self, kind: str, name: str) -> None:
        store = self.store(kind, name)
        in_use = exists().where(rm_allocations.c.store_id == store.store_id)
        removed = self._conn.execute(
            delete(rm_stores).where(
                rm_stores.c.id == store.store_id, rm_stores.c.allocated_kb == 0, not_(in_use)
            )
        ).rowcount
        if removed != 1:
            raise NotEmpty(f"'{name}' still has consumers and cannot be unregistered", store=name)

    # --- organizations ----------------------------------------------------------------------------

    def rooms(self, kind: str) -> list[StoreRoom]:
        # Only an unshared store's holders matter to placement: read just those.
        holders: dict[int, set[str]] = {}
        unshared = (
            select(rm_allocations.c.store_id, rm_allocations.c.org_guid)
            .join(rm_stores, rm_stores.c.id == rm_allocations.c.store_id)
            .where(rm_stores.c.shared == 0, rm_stores.c.kind == kind)
        )
        for row in self._conn.execute(unshared):
            holders.setdefault(row.store_id, set()).add(row.org_guid)
        rows = self._conn.execute(
            select(
                rm_stores.c.id,
                rm_stores.c.store_name,
                rm_stores.c.capacity_kb,
                rm_stores.c.allocated_kb,
                rm_stores.c.shared,
            ).where(rm_stores.c.kind == kind)
        )
        return [
            StoreRoom(
                r.id,
                r.store_name,
                r.capacity_kb,
                r.allocated_kb,
                bool(r.shared),
                frozenset(holders.get(r.id, ())),
            )
            for r in rows
        ]

    def candidates(
        self, kind: str, *, org: str, shared: bool, most_free_first: bool, kilobytes: int
    ) -> list[StoreRoom]:
        free = rm_stores.c.capacity_kb - rm_stores.c.allocated_kb
        other_holder = exists().where(
            rm_allocations.c.store_id == rm_stores.c.id, rm_allocations.c.org_guid != org
        )
        query = (
            select(rm_stores.c.id, rm_stores.c.store_name, rm_stores.c.capacity_kb, rm_stores.c.allocated_kb)
            .where(
                rm_stores.c.kind == kind,
                rm_stores.c.shared == int(shared),
                free > 0,
                *(() if shared else (not_(other_holder),)),
            )
            .order_by(free.desc() if most_free_first else free.asc(), rm_stores.c.store_key)
        )
        found: list[StoreRoom] = []
        covered = 0
        # sorted by the database, read only until the space is covered
        for r in self._conn.execute(query):
            found.append(StoreRoom(r.id, r.store_name, r.capacity_kb, r.allocated_kb, shared, frozenset()))
            covered += r.capacity_kb - r.allocated_kb
            if covered >= kilobytes:
                break
        return found

    def _label(self, store_id: int) -> str:
        """How an error names a store: its name and server, never the ledger's row id."""
        row = self._conn.execute(
            select(rm_stores.c.store_name, rm_stores.c.server_name).where(rm_stores.c.id == store_id)
        ).one()
        return f"store '{row.store_name}' on {row.server_name}"

    def allocate(self, org: str, pieces: Sequence[tuple[int, int]]) -> None:
        """Commit a placement: every piece, guarded, or QuotaExceeded (the caller's unit of work
        rolls the other pieces back)."""
        conn = self._conn
        for store_id, kilobytes in pieces:
            other_holder = exists().where(
                rm_allocations.c.store_id == store_id, rm_allocations.c.org_guid != org
            )
            grown = conn.execute(
                update(rm_stores)
                .where(
                    rm_stores.c.id == store_id,
                    rm_stores.c.allocated_kb + kilobytes <= rm_stores.c.capacity_kb,
                    or_(rm_stores.c.shared == 1, not_(other_holder)),
                )
                .values(allocated_kb=rm_stores.c.allocated_kb + kilobytes)
            ).rowcount
            if grown != 1:
                raise QuotaExceeded(
                    f"{self._label(store_id)} cannot take {kilobytes // KB_PER_MB} MB more for this "
                    "organization",
                    store_id=store_id,
                )
            mine = and_(rm_allocations.c.org_guid == org, rm_allocations.c.store_id == store_id)
            if not conn.execute(
                update(rm_allocations)
                .where(mine)
                .values(allocated_kb=rm_allocations.c.allocated_kb + kilobytes)
            ).rowcount:
                conn.execute(
                    insert(rm_allocations).values(
                        org_guid=org, store_id=store_id, allocated_kb=kilobytes, used_kb=0
                    )
                )

    def slots(self, org: str, kind: str | None = None) -> list[Slot]:
        rows = _SLOTS.execute(self._conn, {"org": org}).all()
        return [
            Slot(r.store_id, r.store_name, r.allocated_kb, r.used_kb, r.server_name)
            for r in rows
            if kind is None or r.kind == kind
        ]

    def shrink(self, org: str, store_id: int, kilobytes: int) -> None:
        conn = self._conn
        mine = and_(rm_allocations.c.org_guid == org, rm_allocations.c.store_id == store_id)
        shrunk = conn.execute(
            update(rm_allocations)
            .where(mine, rm_allocations.c.allocated_kb - kilobytes >= rm_allocations.c.used_kb)
            .values(allocated_kb=rm_allocations.c.allocated_kb - kilobytes)
        ).rowcount
        if shrunk != 1:
            held = conn.execute(select(rm_allocations).where(mine)).first()
            if held is None:
                raise NotFound(
                    f"the organization holds no space on {self._label(store_id)}", store_id=store_id
                )
            raise QuotaExceeded(
                f"cannot give back {kilobytes // KB_PER_MB} MB on {self._label(store_id)}: the "
                f"organization holds {held.allocated_kb // KB_PER_MB} MB there and its mailboxes use "
                f"{held.used_kb} KB",
                store_id=store_id,
            )
        conn.execute(
            update(rm_stores)
            .where(rm_stores.c.id == store_id)
            .values(allocated_kb=rm_stores.c.allocated_kb - kilobytes)
        )
        conn.execute(delete(rm_allocations).where(mine, rm_allocations.c.allocated_kb == 0))

    def deallocate_organization(self, org: str) -> int:
        """Return an organization's storage to its stores; NotEmpty while it has mailboxes."""
        conn = self._conn
        if conn.execute(select(exists().where(rm_mailboxes.c.org_guid == org))).scalar():
            raise NotEmpty("the organization still has mailboxes; deallocate them first", org=org)
        released = 0
        for slot in self.slots(org):
            conn.execute(
                update(rm_stores)
                .where(rm_stores.c.id == slot.store_id)
                .values(allocated_kb=rm_stores.c.allocated_kb - slot.allocated_kb)
            )
            released += slot.allocated_kb
        conn.execute(delete(rm_allocations).where(rm_allocations.c.org_guid == org))
        return released

    # --- mailboxes --------------------------------------------------------------------------------

    def place_mailbox(self, *, org: str, mailbox: str, store_id: int, kilobytes: int) -> None:
        conn = self._conn
        used = _USE.execute(conn, {"org": org, "store_id": store_id, "kb": kilobytes}).rowcount
        if used != 1:
            raise QuotaExceeded(
                f"the organization has no {kilobytes} KB free on {self._label(store_id)}", store_id=store_id
            )
        try:
            _INSERT_MAILBOX.execute(
                conn, {"mailbox_guid": mailbox, "org_guid": org, "store_id": store_id, "size_kb": kilobytes}
            )
        except IntegrityError as exc:
            raise AlreadyExists("the mailbox already has an allocation", mailbox=mailbox) from exc

    def mailbox(self, mailbox: str) -> MailboxPlace | None:
        row = self._conn.execute(select(rm_mailboxes).where(rm_mailboxes.c.mailbox_guid == mailbox)).first()
        if row is None:
            return None
        store = self.stores_by_id([row.store_id])[row.store_id]
        return MailboxPlace(row.mailbox_guid, row.org_guid, store, row.size_kb)

    def mailboxes(self) -> list[MailboxPlace]:
        rows = self._conn.execute(select(rm_mailboxes).order_by(rm_mailboxes.c.mailbox_guid)).all()
        stores = self.stores_by_id(sorted({r.store_id for r in rows}))
        return [MailboxPlace(r.mailbox_guid, r.org_guid, stores[r.store_id], r.size_kb) for r in rows]

    def release_mailbox(self, mailbox: str) -> MailboxPlace:
        place = self.mailbox(mailbox)
        if place is None:
            raise NotFound("the mailbox has no allocation", mailbox=mailbox)
        conn = self._conn
        conn.execute(
            update(rm_allocations)
            .where(rm_allocations.c.org_guid == place.org, rm_allocations.c.store_id == place.store.store_id)
            .values(used_kb=rm_allocations.c.used_kb - place.size_kb)
        )
        conn.execute(delete(rm_mailboxes).where(rm_mailboxes.c.mailbox_guid == mailbox))
        return place

    def resize_mailbox(self, mailbox: str, kilobytes: int) -> MailboxPlace:
        place = self.mailbox(mailbox)
        if place is None:
            raise NotFound("the mailbox has no allocation", mailbox=mailbox)
        delta = kilobytes - place.size_kb
        used = self._conn.execute(
            update(rm_allocations)
            .where(
                rm_allocations.c.org_guid == place.org,
                rm_allocations.c.store_id == place.store.store_id,
                rm_allocations.c.used_kb + delta <= rm_allocations.c.allocated_kb,
            )
            .values(used_kb=rm_allocations.c.used_kb + delta)
        ).rowcount
        if used != 1:
            raise QuotaExceeded(
                f"the organization has not {delta} KB more free on '{place.store.store_name}', where the "
                "mailbox is; give it more space there first (ReallocateOrganizationMailNoMove)",
                store=place.store.store_name,
            )
        self._conn.execute(
            update(rm_mailboxes).where(rm_mailboxes.c.mailbox_guid == mailbox).values(size_kb=kilobytes)
        )
        return MailboxPlace(place.mailbox, place.org, place.store, kilobytes)
