#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containerpoker developers; MIT licence.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: portal_user
short_description: Manage a containerpoker portal account
description:
  - Makes a portal account present (optionally an admin, with the given e-mail address) or
    absent. Removing a user releases their containers first; the last admin is never removed.
  - An existing account's password is left alone unless O(update_password=always); then it is
    set only when it differs, so the module reports a change only when there was one.
version_added: 0.1.0
author: containerpoker developers (@containerpoker)
extends_documentation_fragment:
  - containerpoker.lab.platform
  - containerpoker.lab.platform.actiongroup
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
    description: The e-mail address; required to create an account, changed when it differs.
    type: str
  password:
    description: The password; required to create an account.
    type: str
  admin:
    description: Whether the account is an admin; left as it is when not given.
    type: bool
  update_password:
    description: C(always) makes the password the given one on every run (a change only when it
      differed); C(on_create) sets it only when creating.
    type: str
    choices: [always, on_create]
    default: on_create
attributes:
  check_mode:
    support: full
    description: Returns the RV(actions) it would take and changes nothing; it refuses to remove
      the last admin in check mode too.
  diff_mode:
    support: full
    description: The account's presence, e-mail address and admin role before and after (never
      the password).
  idempotent:
    support: full
    description: A second run with the same options changes nothing, with O(update_password=always)
      too.
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
    open_platform,
)


def shown(user):
    """What the diff shows of an account (never its password)."""
    if user is None:
        return {"state": "absent"}
    return {"state": "present", "email": user.email, "admin": user.is_admin}


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
    p = module.params
    # In check mode the platform works on an in-memory copy of the database: the same calls
    # run, and nothing is written anywhere.
    platform = open_platform(module)
    actions = []
    try:
        with platform:
            accounts = platform.accounts
            user = before = accounts.find(p["name"])
            if p["state"] == "absent":
                if user is not None:
                    plan = platform.delete_user(user.username, apply=not module.check_mode)
                    actions += plan.actions
                    user = None
            elif user is None:
                if not p["email"] or not p["password"]:
                    module.fail_json(msg="Creating %s needs email and password." % p["name"])
                user = accounts.create(p["name"], p["email"], p["password"], admin=bool(p["admin"]))
                actions.append("created %s" % user.username + (" (admin)" if p["admin"] else ""))
            else:
                if p["email"] and accounts.set_email(user.username, p["email"]):
                    actions.append("set the e-mail address of %s" % user.username)
                if p["admin"] is not None and user.is_admin != p["admin"]:
                    accounts.set_admin(user.username, p["admin"])
                    actions.append(("promoted " if p["admin"] else "demoted ") + user.username)
                wants_password = p["update_password"] == "always" and p["password"]
                if wants_password and platform.set_password(user.username, p["password"]):
                    actions.append("set the password of %s" % user.username)
                user = accounts.get(user.username)
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))
    result = {"changed": bool(actions), "actions": actions}
    if user is not None:
        result["user"] = user.as_dict()
    if module._diff:
        result["diff"] = {"before": shown(before), "after": shown(user)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
