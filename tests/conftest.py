"""Fixtures shared by every test folder; the helpers they use live in support.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openmps.app import Deployment, init_deployment
from openmps.types import Secret
from support import ADMIN_PASSWORD, SEEDS, World, build_world, fast_passwords


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    return init_deployment(
        tmp_path / "home",
        domain="fabrikam.com",
        admin_password=Secret(ADMIN_PASSWORD),
        passwords=fast_passwords(),
    )


@pytest.fixture
def world(deployment: Deployment) -> World:
    return build_world(deployment)


@pytest.fixture
def seeds() -> Iterator[Path]:
    yield SEEDS
