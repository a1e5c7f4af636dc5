"""Shared fixtures: real SQLite files in tmp_path, the seeded collection, the answer engine."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_asyncio
from hypothesis import settings

from store.answers.engine import Answers
from store.collection import db as store_db
from tests.botapi import FakeBotAPI

# Timing varies on a shared 2-core CI machine: properties are about behaviour, not speed.
settings.register_profile("paperbot", deadline=None, max_examples=100)
settings.load_profile("paperbot")

FIXTURES = Path(__file__).parent / "fixtures"
DATA = Path(__file__).parent / "data"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "papers.db"


@pytest.fixture
def fresh_db(db_path: Path):
    db = store_db.open_db(db_path)
    yield db
    db.close()


@pytest.fixture
def seeded_db(fresh_db):
    store_db.ensure_seeded(fresh_db)
    return fresh_db


@pytest.fixture
def answers(db_path) -> Answers:
    """An engine of its own over a fresh database (seeded with the demo), for tests that write."""
    engine = Answers.open(db_path)
    yield engine
    engine.db.close()


@pytest.fixture(scope="session")
def seed_answers(tmp_path_factory) -> Answers:
    """One engine over the bundled collection, shared read-only by answer tests."""
    return Answers.open(tmp_path_factory.mktemp("seed") / "papers.db")


@pytest_asyncio.fixture
async def api():
    """The Bot API stand-in on 127.0.0.1: records what the bot sends, feeds it updates."""
    async with FakeBotAPI() as server:
        yield server
