#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containerpoker developers; MIT licence.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: portal_user_info
short_description: The containerpoker portal's accounts
description:
  - Returns the portal's accounts (all of them, or one) with their e-mail address and whether
    they are admins. Changes nothing; password hashes are never returned.
version_added: 0.1.0
author: containerpoker developers (@containerpoker)
extends_documentation_fragment:
  - containerpoker.lab.platform
  - containerpoker.lab.platform.actiongroup
options:
  name:
    description: Only this account (an empty list when it does not exist).
    type: str
attributes:
  check_mode:
    support: full
    description: Only reads, so it runs the same in check mode.
  diff_mode:
    support: none
    description: Only reads; there is nothing to diff.
  idempotent:
    support: full
    description: Only reads and always reports no change.
"""

EXAMPLES = r"""
- name: Read the accounts
  containerpoker.lab.portal_user_info:
  register: accounts

- name: Name the admins
  ansible.builtin.debug:
    msg: "{{ accounts.users | selectattr('is_admin') | map(attribute='username') | list }}"
"""

RETURN = r"""
users:
  description: The accounts (id, username, email, is_admin, created_at), sorted by username.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.containerpoker.lab.plugins.module_utils.platform import (
    PLATFORM_ARGS,
    ContainerPokerError,
    open_platform,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(name=dict(type="str"), **PLATFORM_ARGS),
        supports_check_mode=True,
    )
    platform = open_platform(module, read_only=True)
    try:
        with platform:
            if module.params["name"] is None:
                found = platform.accounts.list()
            else:
                user = platform.accounts.find(module.params["name"])
                found = [user] if user is not None else []
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, users=[u.as_dict() for u in found])


if __name__ == "__main__":
    main()
