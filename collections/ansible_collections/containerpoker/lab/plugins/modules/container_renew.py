#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containerpoker developers; MIT licence.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: container_renew
short_description: Renew a containerpoker container's lifetime
description:
  - A claimed container is released when its lifetime ends or when its owner has not used it
    for a while (both per runtime, in the platform's configuration). Renewing it makes its
    lifetime end that long from now again, and restarts its idle clock.
  - A container can be renewed a few times at most (C(CONTAINERPOKER_<RUNTIME>_RENEWALS));
    the module fails, changing nothing, when none is left or when the container never expires.
version_added: 0.2.0
author: containerpoker developers (@containerpoker)
extends_documentation_fragment:
  - containerpoker.lab.platform
  - containerpoker.lab.platform.actiongroup
options:
  container:
    description: The container (its name or Docker id).
    type: str
    required: true
  owner:
    description: Renew it only if it belongs to this user.
    type: str
attributes:
  check_mode:
    support: full
    description: Checks that the container can be renewed and returns the lifetime it would
      get, renewing nothing.
  diff_mode:
    support: full
    description: When the container's lifetime ends, before and after.
  idempotent:
    support: none
    description: Every run uses one of the container's renewals.
"""

EXAMPLES = r"""
- name: Give alice's nginx container more time before the exam ends
  containerpoker.lab.container_renew:
    container: cp-default-nginx-0354f567
    owner: alice
"""

RETURN = r"""
actions:
  description: What was done (or, in check mode, would be), in words.
  returned: always
  type: list
  elements: str
container:
  description: The container after the renewal (expires_at, renewals_left ...).
  returned: always
  type: dict
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
            container=dict(type="str", required=True),
            owner=dict(type="str"),
            **PLATFORM_ARGS,
        ),
        supports_check_mode=True,
    )
    platform = open_platform(module)
    try:
        with platform:
            plan = platform.pool.renew(
                module.params["container"],
                owner=module.params["owner"],
                apply=not module.check_mode,
            )
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**plan_result(module, plan, container=plan.subjects[0].as_dict()))


if __name__ == "__main__":
    main()
