#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containerpoker developers; MIT licence.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pool_info
short_description: Facts about containerpoker pools and who has which container
description:
  - Returns every pool's counts by state and target, and the containers (optionally only one
    user's or one runtime's) with their owners, ports and URLs. Changes nothing.
version_added: 0.1.0
author: containerpoker developers (@containerpoker)
extends_documentation_fragment:
  - containerpoker.lab.platform
  - containerpoker.lab.platform.actiongroup
options:
  owner:
    description: Only this user's containers.
    type: str
  runtime:
    description: Only this runtime's containers.
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
- name: Read the pools
  containerpoker.lab.pool_info:
  register: platform

- name: Show them
  ansible.builtin.debug:
    var: platform.pools
"""

RETURN = r"""
pools:
  description: Counts per runtime and state, with each pool's target, maximum and ports.
  returned: always
  type: list
  elements: dict
containers:
  description: The containers (name, runtime, owner, host_port, url, state).
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
        argument_spec=dict(owner=dict(type="str"), runtime=dict(type="str"), **PLATFORM_ARGS),
        supports_check_mode=True,
    )
    platform = open_platform(module, read_only=True)
    try:
        with platform:
            pool = platform.pool
            pools = [s.as_dict() for s in pool.status()]
            params = module.params
            found = pool.containers(owner=params["owner"], runtime=params["runtime"])
            containers = [c.as_dict() for c in found]
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, pools=pools, containers=containers)


if __name__ == "__main__":
    main()
