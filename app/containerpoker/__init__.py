"""containerpoker: pre-warmed container pools and an orchestration classroom.

The core library lives here and imports neither Flask nor Ansible: the CLI,
the portal, the recovery monitor and the Ansible modules are thin adapters
over :mod:`containerpoker.pool`, :mod:`containerpoker.images` and friends.
"""

__version__ = "0.1.0"
