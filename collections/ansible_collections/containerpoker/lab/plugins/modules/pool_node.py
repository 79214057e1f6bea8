#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containerpoker developers; MIT licence.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pool_node
short_description: Drain a containerpoker Swarm node for maintenance, or activate it again
description:
  - On a platform that runs its pools on a Docker Swarm (C(CONTAINERPOKER_ENGINE=swarm)),
    O(state=drained) sets the node's Swarm availability to drain; the platform then places
    nothing new there, replaces its warm containers on other nodes and moves its assigned
    ones, with their users' files, to other nodes (their owners see the new address).
  - O(state=active) opens the node again.
  - On a single Docker host the module fails, since there is no node to drain.
version_added: 0.2.0
author: containerpoker developers (@containerpoker)
extends_documentation_fragment:
  - containerpoker.lab.platform
  - containerpoker.lab.platform.actiongroup
options:
  name:
    description: The node's host name, as C(containerpoker node list) shows it.
    type: str
    required: true
  state:
    description: C(drained) or C(active).
    type: str
    choices: [drained, active]
    default: drained
attributes:
  check_mode:
    support: full
    description: Says what draining would move, and changes nothing.
  diff_mode:
    support: full
    description: The node's availability before and after.
  idempotent:
    support: full
    description: A drained, empty node reports no change.
"""

EXAMPLES = r"""
- name: Empty node2 before its kernel update
  containerpoker.lab.pool_node:
    name: node2
    state: drained

- name: Take it back
  containerpoker.lab.pool_node:
    name: node2
    state: active
"""

RETURN = r"""
actions:
  description: What was done (or, in check mode, would be), in words.
  returned: always
  type: list
  elements: str
nodes:
  description: Every node after the run (state, availability, containers per runtime).
  returned: always
  type: list
  elements: dict
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
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["drained", "active"], default="drained"),
            **PLATFORM_ARGS,
        ),
        supports_check_mode=True,
    )
    availability = "drain" if module.params["state"] == "drained" else "active"
    platform = open_platform(module)
    try:
        with platform:
            plan = platform.set_node(
                module.params["name"], availability, apply=not module.check_mode
            )
            nodes = platform.nodes()
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**plan_result(module, plan, nodes=nodes))


if __name__ == "__main__":
    main()
