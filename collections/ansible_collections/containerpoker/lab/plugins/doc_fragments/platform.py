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
