#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containerpoker developers; MIT licence.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pool_release
short_description: Release every container of one containerpoker user
description:
  - Gives back every container a user holds. The containers and the user's files are deleted
    (never reused) and the pools refill in the background.
version_added: 0.1.0
author: containerpoker developers (@containerpoker)
extends_documentation_fragment:
  - containerpoker.lab.platform
options:
  owner:
    description: The user whose containers are released.
    type: str
    required: true
attributes:
  check_mode:
    support: full
    description: Returns what would be released in RV(released), and releases nothing.
  diff_mode:
    support: none
    description: Returns no diff; RV(released) names the containers released.
  idempotent:
    support: full
    description: A user with nothing left to release reports no change.
"""

EXAMPLES = r"""
- name: Free everything bob holds
  containerpoker.lab.pool_release:
    owner: bob
"""

RETURN = r"""
released:
  description: The names of the containers released (or that would be, in check mode).
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
        argument_spec=dict(owner=dict(type="str", required=True), **PLATFORM_ARGS),
        supports_check_mode=True,
    )
    settings = platform_settings(module)
    from containerpoker.pool import PoolManager

    try:
        with PoolManager(settings) as pool:
            held = [c.name for c in pool.containers(owner=module.params["owner"])]
            released = held
            if held and not module.check_mode:
                released = [a.name for a in pool.release_all(module.params["owner"])]
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=bool(released), released=released)


if __name__ == "__main__":
    main()
