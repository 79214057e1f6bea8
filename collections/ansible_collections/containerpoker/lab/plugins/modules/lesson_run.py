#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: containerpoker developers; MIT licence.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lesson_run
short_description: Run a containerpoker lesson and return its narrated steps
description:
  - Runs one of the eight orchestration lessons against the platform's Docker engine, with
    parameters, and returns each step (title, idea, the Docker call made, its result).
  - Every object the lesson creates is removed when it ends, also when it fails.
  - Fails with the lesson's own message when its check fails, or when the lesson or a parameter
    is not valid (then nothing is created).
  - Reports a change, since a run creates containers, networks and volumes (and removes them again).
version_added: 0.1.0
author: containerpoker developers (@containerpoker)
extends_documentation_fragment:
  - containerpoker.lab.platform
  - containerpoker.lab.platform.actiongroup
options:
  lesson:
    description: The lesson, by number (1 to 8) or name (for example C(volumes)).
    type: str
    required: true
    aliases: [flow]
  params:
    description: The lesson's parameters; C(containerpoker lesson list) shows them.
    type: dict
    default: {}
attributes:
  check_mode:
    support: partial
    description: Validates the lesson and its parameters, runs nothing, and reports the change a
      run would make.
    details:
      - In check mode the module finds the lesson and validates O(params) against it, returns
        RV(lesson) and an empty RV(steps), and creates nothing.
      - It does not run the lesson, so a failure that only a real run meets (the engine, an
        image, the lesson's own check) is not reported in check mode.
  diff_mode:
    support: none
    description: Returns no diff; RV(steps) narrates what the lesson did.
  idempotent:
    support: none
    description: Every run creates and removes the lesson's objects, and reports that change.
"""

EXAMPLES = r"""
- name: Lesson 4, multi-container dependencies
  containerpoker.lab.lesson_run:
    lesson: 4
    params:
      requests: 5
  register: lesson
"""

RETURN = r"""
lesson:
  description: The lesson's number, name, title and learning goal.
  returned: always
  type: dict
steps:
  description: The narrated steps (title, idea, call, result, ok).
  returned: success
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
        argument_spec=dict(
            lesson=dict(type="str", required=True, aliases=["flow"]),
            params=dict(type="dict", default={}),
            **PLATFORM_ARGS,
        ),
        supports_check_mode=True,
    )
    platform = open_platform(module)
    with platform:
        try:
            lesson, params = platform.find_lesson(module.params["lesson"], module.params["params"])
        except ContainerPokerError as exc:
            module.fail_json(msg=str(exc))
        info = {
            "number": lesson.number,
            "name": lesson.slug,
            "title": lesson.title,
            "goal": lesson.goal,
        }
        if module.check_mode:
            module.exit_json(changed=True, lesson=info, steps=[])
        steps = []
        try:
            for step in platform.run_lesson(lesson.number, params):
                steps.append(step.as_dict())
        except ContainerPokerError as exc:
            module.fail_json(
                msg="Lesson %d failed: %s" % (lesson.number, exc), lesson=info, steps=steps
            )
    module.exit_json(changed=True, lesson=info, steps=steps)


if __name__ == "__main__":
    main()
