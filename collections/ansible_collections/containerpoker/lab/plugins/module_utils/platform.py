# -*- coding: utf-8 -*-
# Copyright: containerpoker developers; MIT licence.
"""What every containerpoker.lab module shares: importing the core, reading its configuration,
opening the platform, and reporting what it did.

Modules are thin: each opens one ``Platform`` (the core's composition root) and calls a use case
that returns a plan. In check mode the platform is opened for plans only (it writes nothing:
no data folder, no tables, no rows), and the very same use case reports what it would do.

A module runs as the user Ansible gives it. The platform's data folder belongs to its system
user (the portal role creates both), so tasks that write there use
``become_user: "{{ platform_user }}"``, as the roles and playbooks do; a module never switches
user by itself.
"""

from __future__ import annotations

import os
import traceback

from ansible.module_utils.basic import missing_required_lib

try:
    from containerpoker.config import load_settings
    from containerpoker.errors import ContainerPokerError
    from containerpoker.platform import Platform

    CORE_IMPORT_ERROR = None
except ImportError:
    load_settings = None
    Platform = None
    ContainerPokerError = Exception
    CORE_IMPORT_ERROR = traceback.format_exc()

PREFIX = "CONTAINERPOKER_"

DEFAULT_ENV_FILE = "/etc/containerpoker/containerpoker.env"

# The options every module takes to find the platform.
PLATFORM_ARGS = dict(
    env_file=dict(type="path"),
    config=dict(type="dict", default={}),
)


def require_core(module):
    """Fail with Ansible's standard message when the core library is missing."""
    if CORE_IMPORT_ERROR is not None:
        module.fail_json(
            msg=missing_required_lib(
                "containerpoker",
                reason="the containerpoker core library must be importable by the Python that "
                "runs this module (set ansible_python_interpreter to its environment)",
            ),
            exception=CORE_IMPORT_ERROR,
        )


def config_env(config):
    """The ``config`` option as environment keys: ``{"nginx_warm": 8}`` ->
    ``{"CONTAINERPOKER_NGINX_WARM": "8"}``; the prefix may be given, in any case."""
    env = {}
    for key, value in (config or {}).items():
        name = str(key).upper()
        env[name if name.startswith(PREFIX) else PREFIX + name] = str(value)
    return env


def platform_settings(module):
    """The platform's settings: its env file, then ``config`` (CONTAINERPOKER_* keys) on top."""
    require_core(module)
    env = dict(os.environ)
    env_file = module.params.get("env_file")
    if env_file is None and os.path.exists(DEFAULT_ENV_FILE):
        env_file = DEFAULT_ENV_FILE
    if env_file is not None and not os.path.exists(env_file):
        module.fail_json(msg="The env_file %s does not exist." % env_file)
    env.update(config_env(module.params.get("config")))
    try:
        settings = load_settings(env=env, env_file=env_file)
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))
    return settings


def open_platform(module, read_only=False):
    """The platform; one that writes nothing (plans only) in check mode or when ``read_only``
    (the info modules)."""
    settings = platform_settings(module)
    try:
        return Platform(settings, plans_only=module.check_mode or read_only)
    except ContainerPokerError as exc:
        module.fail_json(msg=str(exc))


def plan_result(module, plan, **extra):
    """What a module returns for a core plan: ``changed`` and ``actions`` from the plan itself
    (what was done, or in check mode what would be), and a diff when asked for."""
    result = dict(changed=plan.changed, actions=list(plan.actions), **extra)
    if module._diff:
        result["diff"] = dict(before=plan.before, after=plan.after)
    return result
