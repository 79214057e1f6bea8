"""How the tests run a platform host as a container: systemd as PID 1 and a nested Docker engine,
without --privileged (which fails on these machines). One definition for the converge tests
(tests/ansible/test_roles.py) and the test cluster's nodes (tests/cluster/cluster.py); the
Molecule scenarios give their instances the same (.config/molecule/config.yml)."""

# SYS_PTRACE: runc opens /proc/<pid>/ns/* of the target to `docker exec` (and so to run health
# checks) into a container whose user is not root; without it: "error executing setns process".
# fmt: off
HOST_FLAGS = [
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "SYS_PTRACE",
    "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run", "--tmpfs", "/run/lock",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
]
# fmt: on
