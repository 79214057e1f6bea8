#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containerpoker developers; MIT licence.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: portal_user
short_description: Manage a containerpoker portal account
description:
  - Makes a portal account present (optionally an admin) or absent. Removing a user releases
    their containers first.
  - An existing account's password is left alone unless O(update_password=always).
version_added: 0.1.0
author: containerpoker developers (@containerpoker)
extends_documentation_fragment:
  - containerpoker.lab.platform
options:
  name:
    description: The username.
    type: str
    required: true
  state:
    description: C(present) or C(absent).
    type: str
    choices: [present, absent]
    default: present
  email:
    description: The e-mail address; required to create an account.
    type: str
  password:
    description: The password; required to create an account.
    type: str
  admin:
    description: Whether the account is an admin; left as it is when not given.
    type: bool
  update_password:
    description: C(always) sets the password on every run; C(on_create) only when creating.
    type: str
    choices: [always, on_create]
    default: on_create
attributes:
  check_mode:
    support: full
    description: Returns the RV(actions) it would take and changes nothing; it refuses to remove
      the last admin in check mode too.
  diff_mode:
    support: none
    description: Returns no diff; RV(actions) says what changed, in words.
  idempotent:
    support: partial
    description: Idempotent unless O(update_password=always), which sets the password on every run.
"""

EXAMPLES = r"""
- name: The first admin
  containerpoker.lab.portal_user:
    name: teacher
    email: teacher@example.org
    password: "{{ vault_teacher_password }}"
    admin: true

- name: A student leaves
  containerpoker.lab.portal_user:
    name: student7
    state: absent
"""

RETURN = r"""
user:
  description: The account after the run (absent accounts are not returned).
  returned: when state is present
  type: dict
actions:
  description: What was done, in words.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.containerpoker.lab.plugins.module_utils.platform import (
    PLATFORM_ARGS,
    ContainerPokerError,
    platform_settings,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            email=dict(type="str"),
            password=dict(type="str", no_log=True),
            admin=dict(type="bool"),
            update_password=dict(
                type="str", choices=["always", "on_create"], default="on_create", no_log=False
            ),
            **PLATFORM_ARGS,
        ),
        supports_check_mode=True,
    )
    settings = platform_settings(module)
    from containerpoker.accounts import Accounts, check_password, hash_password
    from containerpoker.store import Store, users

    p = module.params
    accounts = Accounts(Store(settings.database_url))
    actions = []
    try:
        user = accounts.find(p["name"])
        if p["state"] == "absent":
            if user is not None:
                if user.is_admin and accounts.count_admins() <= 1:  # also in check mode
                    module.fail_json(
                        msg="%s is the last admin: promote someone else first." % user.username
                    )
                actions.append("deleted %s" % user.username)
                if not module.check_mode:
                    from containerpoker.pool import PoolManager

                    with PoolManager(settings, store=accounts.store) as pool:
                        released = pool.release_all(user.username)
                    accounts.delete(user.username)
                    actions.append("released %d containers" % len(released))
            module.exit_json(changed=bool(actions), actions=actions)
        if user is None:
            if not p["email"] or not p["password"]:
                module.fail_json(msg="Creating %s needs email and password." % p["name"])
            actions.append("created %s" % p["name"] + (" (admin)" if p["admin"] else ""))
            if not module.check_mode:
                user = accounts.create(p["name"], p["email"], p["password"], admin=bool(p["admin"]))
        else:
            if p["admin"] is not None and user.is_admin != p["admin"]:
                actions.append(("promoted " if p["admin"] else "demoted ") + user.username)
                if not module.check_mode:
                    user, _ = accounts.set_admin(user.username, p["admin"])
            if p["update_password"] == "always" and p["password"]:
                check_password(p["password"], user.username)
                actions.append("set the password of %s" % user.username)
                if not module.check_mode:
                    hashed = hash_password(p["password"])
                    with accounts.store.write() as conn:
                        conn.execute(
                            users.update().where(users.c.id == user.id).values(password_hash=hashed)
                        )
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))
    result = {"changed": bool(actions), "actions": actions}
    if user is not None:
        result["user"] = user.as_dict()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
