#!/bin/sh
# Start a nested Docker engine in this container and keep it in the foreground.
# The cgroup tree this container sees (its own, by --cgroupns=private) is mounted read-only
# by Docker: remount it writable, so that the engine inside can create its containers'
# cgroups, all of them under this container's own limits.
set -u
for dir in /sys/fs/cgroup /sys/fs/cgroup/*; do
    mount -o remount,bind,rw "$dir" 2>/dev/null || true
done
# dockerd's own log, for when something goes wrong: `docker logs <this container>`.
dockerd --host unix:///var/run/docker.sock --storage-driver overlay2 \
        --log-level warn --iptables=true &
engine=$!
trap 'kill -TERM $engine; wait $engine; exit 0' TERM INT
tries=0
until docker info >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -gt 300 ] || ! kill -0 $engine 2>/dev/null; then
        echo "engine.sh: dockerd did not start" >&2
        exit 1
    fi
    sleep 0.1
done
docker import --change 'ENV PATH=/bin' --change 'CMD ["sh"]' /opt/busybox.tar busybox:latest >/dev/null
echo "engine.sh: ready" >&2
touch /run/engine-ready
wait $engine
