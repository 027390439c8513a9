"""The synthetic program of world.py, as fixtures."""

from __future__ import annotations

import pytest

from tests.conftest import MakeUser
from tests.reports.world import (
    World,
    add_grants,
    add_minors,
    add_requests,
    add_sessions,
    build_world,
)


@pytest.fixture
def world(db: None, make_user: MakeUser) -> World:
    return build_world(make_user)


@pytest.fixture
def requests_world(world: World) -> World:
    return add_requests(world)


@pytest.fixture
def grants_world(world: World) -> World:
    return add_grants(world)


@pytest.fixture
def minors_world(world: World) -> World:
    return add_minors(world)


@pytest.fixture
def sessions_world(world: World) -> World:
    return add_sessions(world)
