"""Accounts in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from containerpoker.accounts import Accounts
from containerpoker.errors import Conflict, InvalidRequest, NotFound
from containerpoker.store import Store

PASSWORD = "a long enough passphrase"


@pytest.fixture
def accounts(backend_env, tmp_path):
    url = backend_env.get("CONTAINERPOKER_DATABASE_URL") or f"sqlite:///{tmp_path / 'a.db'}"
    store = Store(url)
    yield Accounts(store)
    store.dispose()


def test_create_authenticate_revoke_and_roles(accounts):
    ada = accounts.create("Ada", "ada@example.org", PASSWORD, admin=True)
    assert (ada.username, ada.is_admin) == ("ada", True)
    with pytest.raises(Conflict):
        accounts.create("bob", "ADA@example.org", PASSWORD)  # e-mail taken, any case
    with pytest.raises(InvalidRequest):
        accounts.create("bob", "bob@example.org", "bob")
    bob = accounts.create("bob", "bob@example.org", PASSWORD)

    assert accounts.authenticate("bob", PASSWORD) == bob
    assert accounts.authenticate("bob", "wrong password") is None
    assert accounts.authenticate("nobody", PASSWORD) is None

    assert accounts.token_owner("bob", "jti-1") == (bob, False)
    accounts.revoke("jti-1", 9e9)
    accounts.revoke("jti-1", 9e9)  # twice is fine
    assert accounts.token_owner("bob", "jti-1") == (bob, True)
    assert accounts.token_owner("ghost", "jti-2") == (None, False)

    promoted, changed = accounts.set_admin("bob")
    assert promoted.is_admin and changed
    assert accounts.set_admin("bob")[1] is False
    accounts.set_admin("ada", False)
    with pytest.raises(Conflict, match="last admin"):
        accounts.delete("bob")
    accounts.delete("ada")
    with pytest.raises(NotFound):
        accounts.get("ada")
    assert [u.username for u in accounts.list()] == ["bob"]
