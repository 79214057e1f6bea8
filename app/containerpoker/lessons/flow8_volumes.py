"""Volumes and data: what lives outside a container survives it.

LEARNING GOAL: create and mount a volume, see data survive the container's
removal, back it up to a tar file, restore it into a new volume, and share
one volume between two containers.

A container's own files vanish with it.  A volume is storage that Docker
manages apart from any container: mount it, and what is written there stays
when the container is gone.
"""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .challenge import Challenge, Check
from .framework import Lab, LessonFailed, Param, Step

TITLE = "Volumes and data"
CATEGORY = "Storage"
PARAMS = [
    Param("note", str, "written before the container was removed", "The data to keep."),
    Param("files", int, 3, "How many files to write.", min=1, max=50),
]
IMAGE = "debian:bookworm-slim"

# Writes the note into COUNT files. The note comes in through the environment,
# not inside the script, so nothing in it is ever run as shell.
WRITE_NOTES = """\
for i in $(seq 1 "$COUNT"); do
    printf "%s\\n" "$NOTE" > /data/note$i.txt
done
"""
# Waits up to 10 s for the file /in/msg to appear, then prints it.
LISTEN = """\
for i in $(seq 1 100); do
    if [ -f /in/msg ]; then
        cat /in/msg
        exit 0
    fi
    sleep 0.1
done
exit 1
"""


def run_script(
    lab: Lab, script: str, mounts: dict[str, str], what: str, env: dict | None = None
) -> str:
    """Run a short shell script in a throwaway container with volumes mounted; its output.

    ``mounts`` maps a volume's name to where it appears in the container.  The
    container is removed when the script ends: what it wrote outside the
    volumes goes with it.
    """
    container = lab.client.containers.run(
        IMAGE,
        ["sh", "-c", script],
        name=lab.name(what),
        labels=lab.labels(),
        volumes={volume: {"bind": path, "mode": "rw"} for volume, path in mounts.items()},
        environment=env or {},
        detach=True,
        # The machine is shared by everyone running a lesson: every container is
        # bounded (memory, CPU, processes, no capabilities, rotated logs).
        **lab.limits(),
    )
    status = container.wait(timeout=30)["StatusCode"]
    output = container.logs().decode().strip()
    container.remove()
    if status != 0:
        raise LessonFailed(f"The {what} container failed ({status}): {output[:300]}")
    return output


def run(lab: Lab, params: dict) -> Iterator[Step]:
    note, count = params["note"], params["files"]

    # 1. A volume: storage Docker keeps apart from any container.
    data = lab.name("data")
    lab.client.volumes.create(data, labels=lab.labels())
    yield Step(
        "Create a volume",
        "A volume is storage Docker keeps apart from containers.",
        f"docker volume create {data}",
        data,
    )

    # 2. A writer container mounts it at /data, writes the files there, and is
    #    removed (run_script removes it when the script ends).
    run_script(lab, WRITE_NOTES, {data: "/data"}, "writer", env={"NOTE": note, "COUNT": str(count)})
    yield Step(
        "Write, then remove the container",
        "The writer is gone; its own files went with it, the volume's did not.",
        f"docker run --rm -v {data}:/data {IMAGE} sh -c 'echo ... > /data/note1.txt'",
        f"{count} files written; container removed",
    )

    # 3. A new container mounting the same volume finds the data: the first
    #    note, then how many files there are.
    seen = run_script(lab, "cat /data/note1.txt; ls /data | wc -l", {data: "/data"}, "reader")
    yield Step(
        "Read it from a new container",
        "A new container mounting the volume finds the data.",
        f"docker run --rm -v {data}:/data {IMAGE} cat /data/note1.txt",
        seen,
    )
    survived = seen.splitlines()
    if survived[:1] != [note] or survived[-1:] != [str(count)]:
        raise LessonFailed(f"The data did not survive: read {seen!r}.")

    # 4. Back up. Docker hands out any folder of a container as a tar stream (what
    #    `docker cp NAME:/data -` prints). The container need not run: one created
    #    with the volume mounted (read-only: a backup only reads) will do.
    holder = lab.client.containers.create(
        IMAGE,
        ["true"],
        name=lab.name("backup"),
        labels=lab.labels(),
        volumes={data: {"bind": "/data", "mode": "ro"}},
        **lab.limits(),
    )
    with tempfile.TemporaryDirectory(prefix="cp-lesson8-") as folder:
        backup = Path(folder) / "backup.tar"
        stream, _ = holder.get_archive("/data")
        with open(backup, "wb") as out:
            for chunk in stream:
                out.write(chunk)
        holder.remove()
        with tarfile.open(backup) as archive:
            names = sorted(member.name for member in archive.getmembers() if member.isfile())
        yield Step(
            "Back it up to a tar file",
            "Docker hands out a folder of a container as a tar stream: that is a backup.",
            f"docker cp {lab.name('backup')}:/data - > backup.tar",
            f"{backup.stat().st_size} bytes: {', '.join(names)}",
        )

        # 5. Restore: a fresh volume, mounted in a created container, and the tar
        #    unpacked into it (`docker cp - NAME:/restore` reads a tar from stdin).
        restored = lab.name("restored")
        lab.client.volumes.create(restored, labels=lab.labels())
        target = lab.client.containers.create(
            IMAGE,
            ["true"],
            name=lab.name("restore"),
            labels=lab.labels(),
            volumes={restored: {"bind": "/restore", "mode": "rw"}},
            **lab.limits(),
        )
        target.put_archive("/restore", backup.read_bytes())
        target.remove()
    # The tar holds the folder "data" itself: the note is now in /restore/data.
    again = run_script(lab, "cat /restore/data/note1.txt", {restored: "/restore"}, "check")
    yield Step(
        "Restore into a new volume",
        "Unpacking the tar into a fresh volume gives the same data, anywhere.",
        f"docker volume create {restored} && docker cp - {lab.name('restore')}:/restore < backup.tar",
        again,
    )
    if again != note:
        raise LessonFailed(f"The restored volume holds {again!r}, not the note.")

    # 6. Share: two containers mount one volume at the same time. The listener
    #    (read-only) starts first and waits for a file; the talker writes it.
    shared = lab.name("shared")
    lab.client.volumes.create(shared, labels=lab.labels())
    listener = lab.client.containers.run(
        IMAGE,
        ["sh", "-c", LISTEN],
        name=lab.name("listener"),
        labels=lab.labels(),
        volumes={shared: {"bind": "/in", "mode": "ro"}},
        detach=True,
        **lab.limits(),
    )
    run_script(lab, 'printf "%s" "shared by two containers" > /out/msg', {shared: "/out"}, "talker")
    code = listener.wait(timeout=30)["StatusCode"]
    heard = listener.logs().decode().strip()
    yield Step(
        "Share one volume between two containers",
        "Both mount the same volume: what one writes, the other reads at once "
        "(the listener mounts it read-only).",
        f"docker run -v {shared}:/in:ro ... cat /in/msg  |  docker run -v {shared}:/out ... > /out/msg",
        heard,
    )
    if code != 0 or heard != "shared by two containers":
        raise LessonFailed(f"The second container did not see the first one's file ({heard!r}).")


# The challenge: data that outlives the container that wrote it. Each check is a shell line
# that exits 0 once that part of the task is done, against your own engine.
CHALLENGE = Challenge(
    task=(
        "Create a volume named notes. With a container named writer, write 'kept' into "
        "hello.txt on it, then remove writer. Then run a container named reader with the "
        "same volume that prints the file."
    ),
    checks=(
        Check(
            "The volume notes exists",
            "docker volume inspect notes >/dev/null",
            "`docker volume create notes`",
        ),
        Check(
            "reader printed kept from notes",
            "docker inspect -f '{{range .Mounts}}{{.Name}} {{end}}' reader | grep -qw notes "
            "&& docker logs reader 2>&1 | grep -qx kept",
            "`docker run --name reader -v notes:/data busybox cat /data/hello.txt`",
        ),
        Check(
            "writer is gone: only reader uses notes",
            """[ "$(docker ps -aq --filter volume=notes | wc -l)" -eq 1 ]""",
            "The point is that the data outlives its writer: `docker rm writer`.",
        ),
    ),
    solution=(
        "docker volume create notes\n"
        "docker run --name writer -v notes:/data busybox sh -c 'echo kept > /data/hello.txt'\n"
        "docker rm writer\n"
        "docker run --name reader -v notes:/data busybox cat /data/hello.txt"
    ),
    cleanup="docker rm -f reader writer; docker volume rm notes",
)
