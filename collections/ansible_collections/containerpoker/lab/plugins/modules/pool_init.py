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
    support: none
    description: Returns no diff; RV(actions) and RV(created) say what changed.
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
  description: Containers created per runtime.
  returned: always
  type: dict
  sample: {nginx: 2}
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
    platform_settings,
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
    settings = platform_settings(module)
    from containerpoker.pool import PoolManager

    sizes = module.params["sizes"]
    wanted = list(module.params["runtimes"]) or list(sizes) or list(settings.runtimes)
    for name in list(wanted) + list(sizes):
        if name not in settings.runtimes:
            module.fail_json(
                msg="Unknown runtime %r: choose one of %s." % (name, ", ".join(settings.runtimes))
            )
    for name, size in sizes.items():
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            module.fail_json(msg="sizes.%s must be a whole number, 0 or more." % name)
    actions, created = [], {}
    try:
        with PoolManager(settings) as pool:
            before = {s.runtime: s for s in pool.status()}
            for name in wanted:
                status = before[name]
                target = sizes.get(name, status.warm_target)
                have = status.ready + status.warming
                if target != status.warm_target:
                    actions.append("%s: warm size %d -> %d" % (name, status.warm_target, target))
                if target > have:
                    actions.append("%s: created %d warm containers" % (name, target - have))
                    created[name] = target - have
                elif target < have:
                    actions.append("%s: removed %d warm containers" % (name, have - target))
                    created[name] = target - have
            if not module.check_mode:
                for name in wanted:
                    if name in sizes:
                        pool.resize(name, sizes[name])
                    else:
                        pool.init([name])
                pool.wait_idle()
            pools = [s.as_dict() for s in pool.status()]
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=bool(actions), actions=actions, created=created, pools=pools)


if __name__ == "__main__":
    main()
