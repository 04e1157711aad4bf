"""The placement algorithms of reference §2.4, as pure functions."""

from __future__ import annotations

import pytest

from openmps.errors import InvalidArgument, QuotaExceeded
from openmps.resources.placement import (
    MailboxAlgorithm,
    OrgAlgorithm,
    Slot,
    StoreRoom,
    parse_algorithm,
    place_mailbox,
    plan_organization,
)

MB = 1024


def room(
    i: int, capacity_mb: int, allocated_mb: int = 0, *, shared: bool = True, holders: tuple[str, ...] = ()
) -> StoreRoom:
    return StoreRoom(i, f"S{i}", capacity_mb * MB, allocated_mb * MB, shared, frozenset(holders))


STORES = [room(1, 1000, 900), room(2, 1000, 100), room(3, 1000, 500)]  # free: 100, 900, 500


def test_tight_pack_fills_the_fullest_stores_first() -> None:
    pieces = plan_organization(
        STORES, org="o", kilobytes=300 * MB, shared=True, algorithm=OrgAlgorithm.TIGHT_PACK
    )
    assert pieces == [(1, 100 * MB), (3, 200 * MB)]


def test_min_store_count_takes_the_emptiest_store_first() -> None:
    pieces = plan_organization(
        STORES, org="o", kilobytes=300 * MB, shared=True, algorithm=OrgAlgorithm.MIN_STORE_COUNT
    )
    assert pieces == [(2, 300 * MB)]


def test_an_org_may_span_stores_and_never_gets_more_than_is_free() -> None:
    pieces = plan_organization(
        STORES, org="o", kilobytes=1500 * MB, shared=True, algorithm=OrgAlgorithm.TIGHT_PACK
    )
    assert sum(kb for _, kb in pieces) == 1500 * MB
    free = {s.store_id: s.free_kb for s in STORES}
    assert all(kb <= free[i] for i, kb in pieces)


def test_not_enough_space_names_need_and_free() -> None:
    with pytest.raises(QuotaExceeded) as caught:
        plan_organization(
            STORES, org="o", kilobytes=2000 * MB, shared=True, algorithm=OrgAlgorithm.TIGHT_PACK
        )
    assert "2000 MB needed, 1500 MB free" in caught.value.description


def test_unshared_stores_serve_one_organization_only() -> None:
    stores = [
        room(1, 100, shared=False),
        room(2, 100, 50, shared=False, holders=("other",)),
        room(3, 100, shared=True),
    ]
    pieces = plan_organization(
        stores, org="o", kilobytes=100 * MB, shared=False, algorithm=OrgAlgorithm.TIGHT_PACK
    )
    assert pieces == [(1, 100 * MB)]
    # the holder of an unshared store may grow on it
    mine = [room(2, 100, 50, shared=False, holders=("o",))]
    assert plan_organization(
        mine, org="o", kilobytes=50 * MB, shared=False, algorithm=OrgAlgorithm.TIGHT_PACK
    ) == [(2, 50 * MB)]
    with pytest.raises(QuotaExceeded):
        plan_organization(
            stores[1:2], org="o", kilobytes=10 * MB, shared=False, algorithm=OrgAlgorithm.TIGHT_PACK
        )


SLOTS = [Slot(1, "S1", 100_000, 90_000), Slot(2, "S2", 100_000, 10_000), Slot(3, "S3", 100_000, 50_000)]


def test_mailboxes_tight_pack_on_the_fullest_store_that_fits() -> None:
    assert place_mailbox(SLOTS, kilobytes=20_000, algorithm=MailboxAlgorithm.TIGHT_PACK).store_id == 3
    assert place_mailbox(SLOTS, kilobytes=5_000, algorithm=MailboxAlgorithm.TIGHT_PACK).store_id == 1


def test_mailboxes_level_on_the_emptiest_store() -> None:
    assert place_mailbox(SLOTS, kilobytes=5_000, algorithm=MailboxAlgorithm.LEVEL).store_id == 2


def test_a_mailbox_that_fits_nowhere_is_refused() -> None:
    with pytest.raises(QuotaExceeded) as caught:
        place_mailbox(SLOTS, kilobytes=95_000, algorithm=MailboxAlgorithm.LEVEL)
    assert "95000 KB" in caught.value.description and "90000 KB" in caught.value.description


@pytest.mark.parametrize("size", [0, -5])
def test_sizes_must_be_positive(size: int) -> None:
    with pytest.raises(InvalidArgument):
        place_mailbox(SLOTS, kilobytes=size, algorithm=MailboxAlgorithm.LEVEL)
    with pytest.raises(InvalidArgument):
        plan_organization(STORES, org="o", kilobytes=size, shared=True, algorithm=OrgAlgorithm.TIGHT_PACK)


def test_algorithm_names_are_case_insensitive_and_checked() -> None:
    assert (
        parse_algorithm(OrgAlgorithm, "MINSTORECOUNT", OrgAlgorithm.TIGHT_PACK)
        is OrgAlgorithm.MIN_STORE_COUNT
    )
    assert parse_algorithm(MailboxAlgorithm, None, MailboxAlgorithm.TIGHT_PACK) is MailboxAlgorithm.TIGHT_PACK
    with pytest.raises(InvalidArgument) as caught:
        parse_algorithm(MailboxAlgorithm, "random", MailboxAlgorithm.TIGHT_PACK)
    assert "'random'" in caught.value.description
