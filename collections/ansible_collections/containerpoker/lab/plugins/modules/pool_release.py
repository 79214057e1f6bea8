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
actions:
  description: What was done (or, in check mode, would be), in words.
  returned: always
  type: list
  elements: str
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
    open_platform,
    plan_result,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(owner=dict(type="str", required=True), **PLATFORM_ARGS),
        supports_check_mode=True,
    )
    platform = open_platform(module)
    try:
        with platform:
            plan = platform.pool.release_all(module.params["owner"], apply=not module.check_mode)
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**plan_result(module, plan, released=plan.keys("released")))


if __name__ == "__main__":
    main()
