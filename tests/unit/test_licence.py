"""The collection ships its own copy of the repository's LICENSE (ansible-test's symlinks test
refuses a link out of the collection); the two must not drift apart."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_collection_carries_the_repositorys_licence():
    collection = ROOT / "collections/ansible_collections/containerpoker/lab/LICENSE"
    assert not collection.is_symlink()
    assert collection.read_text() == (ROOT / "LICENSE").read_text()
    assert "MIT License" in collection.read_text()
