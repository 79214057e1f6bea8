"""Prepare what ansible-test needs to build its virtual environments without the internet.

Run by scripts/ansible-test.sh with the project's .venv Python (the one that has ansible-test).

ansible-test makes an empty virtual environment (``python -m venv --without-pip``) for each
sanity test and for ``units --venv``, then runs its requirements script in it
(ansible_test/_util/target/setup/requirements.py). That script:

1. bootstraps pip by running ``~/.ansible/test/cache/get_pip_<pip version>.py`` and, when that
   file is missing, first downloads get-pip from https://ci-files.testing.ansible.com, which this
   network cannot reach;
2. then runs ``pip install -r <ansible-test's pinned requirements>`` with an environment reduced
   to PATH, HOME and LC_ALL (ansible_test/_internal/util.py: common_environment), so PIP_*
   variables (index, find-links, certificate bundle) and SSL_CERT_FILE never reach that pip.

So this helper:

* ``plan`` prints, as shell assignments, the pip version ansible-test bootstraps, the Python
  version, the requirement sets it will install (sanity.*.txt; ansible.txt + units.txt with
  constraints.txt for units) and a stamp that changes when any of them changes;
* ``get-pip`` writes the cache file ansible-test looks for. It is our own small script, not
  get-pip: it installs the requested pip from the local wheelhouse and writes a ``pip.conf`` into
  the new environment (pip reads ``sys.prefix/pip.conf``, whatever the environment variables) with
  ``no-index`` and ``find-links`` = the wheelhouse, so every later ``pip install`` ansible-test
  runs in that environment is served from the wheelhouse, offline.

The wheelhouse itself (wheels from PyPI) is filled by scripts/ansible-test.sh with pip.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shlex
import sys
import types

CACHE_DIR = os.path.expanduser("~/.ansible/test/cache")
MARKER = "containerpoker offline pip bootstrap"

GET_PIP_TEMPLATE = '''\
"""{marker}: stands in for get-pip {pip_version}, offline.

Written by containerpoker's scripts/ansible-test.sh (scripts/ansible_test_offline.py); it is run
by ansible-test's requirements script as ``python get_pip_{pip_tag}.py --disable-pip-version-check
pip=={pip_version} --no-setuptools --no-wheel`` inside a new, empty virtual environment.
It installs pip from the local wheelhouse and points the environment's pip at that wheelhouse.
Delete it (and ~/.ansible/test/venv) to go back to ansible-test's own download.
"""

import os
import sys

CACHE_DIR = os.path.dirname(os.path.abspath(__file__))
WHEELHOUSE = os.path.join(CACHE_DIR, "containerpoker-wheels", "py%d.%d" % sys.version_info[:2])
PIP_WHEEL = os.path.join(WHEELHOUSE, "pip-{pip_version}-py3-none-any.whl")


def main():
    if not os.path.isfile(PIP_WHEEL):
        sys.stderr.write(
            "[ansible-test] %s is missing: run scripts/ansible-test.sh (it fills the wheelhouse "
            "from PyPI once) and retry.\\n" % PIP_WHEEL
        )
        return 1
    # pip reads sys.prefix/pip.conf (the environment's "site" configuration) whatever the
    # environment variables say; ansible-test strips PIP_* from them anyway.
    with open(os.path.join(sys.prefix, "pip.conf"), "w") as conf:
        # quiet: pip's errors and warnings only, for a readable CI log.
        conf.write("[global]\\nno-index = true\\nfind-links = %s\\nquiet = 1\\n" % WHEELHOUSE)
    # get-pip's own options; pip install does not know them (setuptools and wheel are not
    # installed either way: nothing asks for them).
    args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    sys.path.insert(0, PIP_WHEEL)  # pip runs from its wheel
    from pip._internal.cli.main import main as pip_main

    return pip_main(["install", "--no-index", "--find-links", WHEELHOUSE] + args)


if __name__ == "__main__":
    sys.exit(main())
'''


def ansible_test_facts():
    """The pip version ansible-test bootstraps and where its requirement files are."""
    from ansible_test._internal.python_requirements import ANSIBLE_TEST_DATA_ROOT, get_venv_packages

    version = "{}.{}".format(*sys.version_info[:2])
    pip_version = get_venv_packages(types.SimpleNamespace(version=version))["pip"]
    return version, pip_version, os.path.join(ANSIBLE_TEST_DATA_ROOT, "requirements")


def requirement_sets(requirements_dir, collection):
    """Each pip install ansible-test will run, as (name, requirement files, constraint files)."""
    sets = []
    for name in sorted(os.listdir(requirements_dir)):
        if name.startswith("sanity.") and name.endswith(".txt"):
            # ansible-test installs these without its constraints (collect_sanity_install).
            sets.append((name[: -len(".txt")], [os.path.join(requirements_dir, name)], []))
    # units --venv: ansible's own requirements, the units ones, the collection's, constrained.
    reqs = [
        os.path.join(requirements_dir, "ansible.txt"),
        os.path.join(requirements_dir, "units.txt"),
    ]
    cons = [os.path.join(requirements_dir, "constraints.txt")]
    own_reqs = os.path.join(collection, "tests", "unit", "requirements.txt")
    own_cons = os.path.join(collection, "tests", "unit", "constraints.txt")
    if os.path.isfile(own_reqs) and os.path.getsize(own_reqs):
        reqs.append(own_reqs)
    if os.path.isfile(own_cons) and os.path.getsize(own_cons):
        cons.insert(0, own_cons)  # ansible-test lists the collection's constraints first
    sets.append(("units", reqs, cons))
    return sets


def stamp(version, pip_version, sets):
    digest = hashlib.sha256()
    digest.update(f"{version} {platform.machine()} {pip_version}\n".encode())
    for name, reqs, cons in sets:
        digest.update(name.encode())
        for path in reqs + cons:
            with open(path, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()[:16]


def cmd_plan(args):
    version, pip_version, requirements_dir = ansible_test_facts()
    sets = requirement_sets(requirements_dir, args.collection)
    out = {
        "PY_VERSION": version,
        "PIP_VERSION": pip_version,
        "GET_PIP": os.path.join(CACHE_DIR, "get_pip_{}.py".format(pip_version.replace(".", "_"))),
        "WHEELHOUSE": os.path.join(CACHE_DIR, "containerpoker-wheels", "py" + version),
        "STAMP": stamp(version, pip_version, sets),
    }
    for key, value in out.items():
        print(f"{key}={shlex.quote(value)}")
    # One line per pip run: its name, then pip wheel arguments.
    lines = []
    for name, reqs, cons in sets:
        argv = [name]
        for path in reqs:
            argv += ["-r", path]
        for path in cons:
            argv += ["-c", path]
        lines.append(shlex.join(argv))
    print("REQUIREMENT_SETS=" + shlex.quote("\n".join(lines)))


def cmd_get_pip(args):
    version, pip_version, _ = ansible_test_facts()
    path = os.path.join(CACHE_DIR, "get_pip_{}.py".format(pip_version.replace(".", "_")))
    text = GET_PIP_TEMPLATE.format(
        marker=MARKER, pip_version=pip_version, pip_tag=pip_version.replace(".", "_")
    )
    if os.path.exists(path):
        with open(path) as handle:
            current = handle.read()
        if current == text:
            print("unchanged")
            return
        if MARKER not in current:
            print("replaced a get-pip that was not ours")
    os.makedirs(CACHE_DIR, exist_ok=True)
    with open(path + ".tmp", "w") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)
    print("written")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="print what to prepare, as shell assignments")
    plan.add_argument("--collection", required=True)
    plan.set_defaults(func=cmd_plan)
    get_pip = sub.add_parser("get-pip", help="write ~/.ansible/test/cache/get_pip_<v>.py")
    get_pip.set_defaults(func=cmd_get_pip)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
