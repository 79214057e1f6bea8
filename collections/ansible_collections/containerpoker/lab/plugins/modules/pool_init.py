#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containerpoker developers; MIT licence.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pool_init
short_description: Bring containerpoker pools to their warm sizes
description:
  - Warms the platform's pools of pre-started containers (nginx, apache, python, node) to their
    warm sizes, for every runtime or the ones named.
  - With O(sizes), sets a pool's warm size first (kept in the platform's database) and then
    creates or removes warm containers to match.
  - Running it again creates nothing; RV(ignore:changed) is true only when containers were
    created or removed or a size was changed.
version_added: 0.1.0
author: containerpoker developers (@containerpoker)
extends_documentation_fragment:
  - containerpoker.lab.platform
  - containerpoker.lab.platform.actiongroup
requirements:
  - a reachable Docker engine and the runtime images built
options:
  runtimes:
    description: The runtimes to warm; all configured runtimes when empty.
    type: list
    elements: str
    default: []
  sizes:
    description: "Warm size per runtime, for example C({nginx: 5, python: 2})."
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Reports what would be created or removed, and does nothing.
  diff_mode:
    support: full
    description: The warm size of each pool before and after.
  idempotent:
    support: full
    description: A second run with the same options creates nothing and reports no change.
"""

EXAMPLES = r"""
- name: Warm every pool to its configured size
  containerpoker.lab.pool_init:

- name: Five warm nginx and two python containers
  containerpoker.lab.pool_init:
    sizes:
      nginx: 5
      python: 2
"""

RETURN = r"""
actions:
  description: What was done, in words.
  returned: always
  type: list
  elements: str
  sample: ["nginx: created 2 warm containers"]
created:
  description: Warm containers created (or, in check mode, that would be) per runtime.
  returned: always
  type: dict
  sample: {nginx: 2}
removed:
  description: Warm containers removed (or that would be) per runtime, when a size went down.
  returned: always
  type: dict
  sample: {python: 1}
pools:
  description: The pools after the run (ready, warming, assigned ... per runtime).
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
            runtimes=dict(type="list", elements="str", default=[]),
            sizes=dict(type="dict", default={}),
            **PLATFORM_ARGS,
        ),
        supports_check_mode=True,
    )
    platform = open_platform(module)
    try:
        with platform:
            plan = platform.pool.init(
                module.params["runtimes"] or None,
                sizes=module.params["sizes"],
                apply=not module.check_mode,
            )
            pools = [s.as_dict() for s in platform.pool.status()]
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(
        **plan_result(
            module,
            plan,
            created=plan.changes.get("created", {}),
            removed=plan.changes.get("removed", {}),
            pools=pools,
        )
    )


if __name__ == "__main__":
    main()
