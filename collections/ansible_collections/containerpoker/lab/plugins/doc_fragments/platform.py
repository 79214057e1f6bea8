# -*- coding: utf-8 -*-
# Copyright: containerpoker developers; MIT licence.

from __future__ import annotations


class ModuleDocFragment:
    # The options every containerpoker.lab module takes to find its platform.
    DOCUMENTATION = r"""
options:
  env_file:
    description:
      - The platform's configuration file (C(CONTAINERPOKER_*) keys).
      - Defaults to C(/etc/containerpoker/containerpoker.env) when it exists.
    type: path
  config:
    description:
      - C(CONTAINERPOKER_*) settings for this run, over the env file (C(instance), C(data_dir) ...);
        names may leave out the prefix.
    type: dict
    default: {}
requirements:
  - the C(containerpoker) core library, importable by the managed node's Python
"""

    # Membership of the action group meta/runtime.yml declares (module_defaults for all).
    ACTIONGROUP = r"""
attributes:
  action_group:
    description: Use C(group/containerpoker.lab.platform) in C(module_defaults) to set
      O(env_file) and O(config) once for every module of the collection.
    support: full
    membership:
      - containerpoker.lab.platform
"""
