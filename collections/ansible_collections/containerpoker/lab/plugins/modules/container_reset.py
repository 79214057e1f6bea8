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
  - containerpoker.lab.platform.actiongroup
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
    description: Returns no diff (nothing a person reads changes); RV(replaced) names the containers.
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
actions:
  description: What was done (or, in check mode, would be), in words.
  returned: always
  type: list
  elements: str
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
    open_platform,
    plan_result,
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
    params = module.params
    platform = open_platform(module)
    try:
        with platform:
            plan = platform.pool.reset(
                params["container"],
                runtime=params["runtime"],
                owner=params["owner"],
                apply=not module.check_mode,
            )
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**plan_result(module, plan, replaced=plan.keys("replaced")))


if __name__ == "__main__":
    main()
