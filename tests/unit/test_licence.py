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


def test_the_wheel_carries_every_browser_file_the_portal_serves_with_its_licence():
    """hatch_build.py packs what portal/vendor.py serves: a deployed portal has no node_modules."""
    import ast

    from containerpoker.portal import vendor

    # The hook imports hatchling, which only the build has: read its table without running it.
    tree = ast.parse((ROOT / "hatch_build.py").read_text())
    packing = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "VENDOR"
    )
    packed = {name: source for source, name in packing.items()}
    for name, folder in vendor.FILES.items():
        assert packed.get(name) == f"{folder}/{name}", name
    packages = {source.split("/")[0] for source in packing if not source.startswith("@")}
    packages |= {"/".join(s.split("/")[:2]) for s in packing if s.startswith("@")}
    for package in packages:
        assert f"{package}/LICENSE" in packing, package
