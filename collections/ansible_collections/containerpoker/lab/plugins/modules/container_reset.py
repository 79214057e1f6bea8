#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containerpoker developers; MIT licence.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: container_reset
short_description: Replace containerpoker containers with fresh ones
description:
  - Replaces one container, every container of a runtime, or every container of a user with
    a fresh one. An assigned container keeps its owner, host port and the user's files; a warm
    one is removed and its pool refilled.
  - Always changes something when anything matches; nothing matching is not an error and
    reports no change.
version_added: 0.1.0
author: containerpoker developers (@containerpoker)
extends_documentation_fragment:
  - containerpoker.lab.platform
options:
  container:
    description: One container (its name or Docker id).
    type: str
  runtime:
    description: Every container of this runtime.
    type: str
  owner:
    description: Every container of this user.
    type: str
attributes:
  check_mode:
    support: full
    description: Returns what would be replaced, and replaces nothing.
  diff_mode:
    support: none
    description: Returns no diff; RV(replaced) names the containers replaced.
  idempotent:
    support: none
    description: Replacing is an action; every run replaces what matches.
notes:
  - Exactly one of O(container), O(runtime) and O(owner) is required.
"""

EXAMPLES = r"""
- name: Fresh containers for everything alice has
  containerpoker.lab.container_reset:
    owner: alice

- name: Replace every warm and assigned nginx container
  containerpoker.lab.container_reset:
    runtime: nginx
"""

RETURN = r"""
replaced:
  description: The names of the containers replaced (or that would be, in check mode).
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
            container=dict(type="str"),
            runtime=dict(type="str"),
            owner=dict(type="str"),
            **PLATFORM_ARGS,
        ),
        required_one_of=[("container", "runtime", "owner")],
        mutually_exclusive=[("container", "runtime", "owner")],
        supports_check_mode=True,
    )
    settings = platform_settings(module)
    from containerpoker.pool import PoolManager

    params = module.params
    try:
        with PoolManager(settings) as pool:
            if params["container"]:
                matching = [pool.get(params["container"]).name]
            else:
                matching = [
                    c.name
                    for c in pool.containers(owner=params["owner"], runtime=params["runtime"])
                    if c.state in ("ready", "assigned", "failed")
                ]
            replaced = matching
            if matching and not module.check_mode:
                replaced = pool.reset(
                    params["container"], runtime=params["runtime"], owner=params["owner"]
                )
                pool.wait_idle()
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=bool(replaced), replaced=replaced)


if __name__ == "__main__":
    main()
