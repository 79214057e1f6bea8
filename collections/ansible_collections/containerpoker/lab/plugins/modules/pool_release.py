#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containerpoker developers; MIT licence.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pool_release
short_description: Release a containerpoker container, or every container of one user
description:
  - Gives back one assigned container, or every container a user holds. The containers and the
    user's files are deleted (never reused) and the pools refill in the background.
version_added: 0.1.0
author: containerpoker developers (@containerpoker)
extends_documentation_fragment:
  - containerpoker.lab.platform
  - containerpoker.lab.platform.actiongroup
options:
  owner:
    description:
      - The user whose containers are released.
      - With O(container), the container is released only if it belongs to this user.
    type: str
  container:
    description:
      - One assigned container (its name or Docker id); a warm one is refused (use
        M(containerpoker.lab.container_reset) to replace it).
      - Releasing it again fails, since it no longer exists.
    type: str
    version_added: 0.2.0
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
notes:
  - At least one of O(owner) and O(container) is required.
"""

EXAMPLES = r"""
- name: Free everything bob holds
  containerpoker.lab.pool_release:
    owner: bob

- name: Free one of his containers
  containerpoker.lab.pool_release:
    container: cp-default-nginx-0354f567
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
        argument_spec=dict(owner=dict(type="str"), container=dict(type="str"), **PLATFORM_ARGS),
        required_one_of=[("owner", "container")],
        supports_check_mode=True,
    )
    params = module.params
    platform = open_platform(module)
    try:
        with platform:
            if params["container"]:
                plan = platform.pool.release(
                    params["container"], owner=params["owner"], apply=not module.check_mode
                )
            else:
                plan = platform.pool.release_all(params["owner"], apply=not module.check_mode)
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**plan_result(module, plan, released=plan.keys("released")))


if __name__ == "__main__":
    main()
