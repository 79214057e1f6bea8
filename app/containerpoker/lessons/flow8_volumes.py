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

from .framework import Lab, LessonFailed, Param, Step

TITLE = "Volumes and data"
CATEGORY = "Storage"
PARAMS = [
    Param("note", str, "written before the container was removed", "The data to keep."),
    Param("files", int, 3, "How many files to write.", min=1, max=50),
]
IMAGE = "debian:bookworm-slim"


def _sh(lab: Lab, script: str, mounts: dict[str, str], what: str, env: dict | None = None) -> str:
    """Run a short shell script in a throwaway container with volumes mounted.

    The container is removed when the script ends: what it wrote outside the
    volumes goes with it.
    """
    container = lab.client.containers.run(
        IMAGE,
        ["sh", "-c", script],
        name=lab.name(what),
        labels=lab.labels(),
        volumes={vol: {"bind": path, "mode": "rw"} for vol, path in mounts.items()},
        environment=env or {},
        detach=True,
    )
    status = container.wait(timeout=30)["StatusCode"]
    output = container.logs().decode().strip()
    container.remove()
    if status != 0:
        raise LessonFailed(f"The {what} container failed ({status}): {output[:300]}")
    return output


def run(lab: Lab, params: dict) -> Iterator[Step]:
    note, count = params["note"], params["files"]
    data = lab.name("data")
    lab.client.volumes.create(data, labels=lab.labels())
    yield Step(
        "Create a volume",
        "A volume is storage Docker keeps apart from containers.",
        f"docker volume create {data}",
        data,
    )

    # Write with one container; the text goes in through the environment, not the
    # script, so nothing in it is ever run as shell.
    _sh(
        lab,
        'for i in $(seq 1 "$COUNT"); do printf "%s\\n" "$NOTE" > /data/note$i.txt; done',
        {data: "/data"},
        "writer",
        env={"NOTE": note, "COUNT": str(count)},
    )
    yield Step(
        "Write, then remove the container",
        "The writer is gone; its own files went with it, the volume's did not.",
        f"docker run --rm -v {data}:/data {IMAGE} sh -c 'echo ... > /data/note1.txt'",
        f"{count} files written; container removed",
    )

    seen = _sh(lab, "cat /data/note1.txt; ls /data | wc -l", {data: "/data"}, "reader")
    survived = seen.splitlines()
    yield Step(
        "Read it from a new container",
        "A new container mounting the volume finds the data.",
        f"docker run --rm -v {data}:/data {IMAGE} cat /data/note1.txt",
        seen,
    )
    if survived[:1] != [note] or survived[-1:] != [str(count)]:
        raise LessonFailed(f"The data did not survive: read {seen!r}.")

    # Back up: copy the volume's content out of a (stopped) container as a tar stream.
    holder = lab.client.containers.create(
        IMAGE,
        ["true"],
        name=lab.name("backup"),
        labels=lab.labels(),
        volumes={data: {"bind": "/data", "mode": "ro"}},
    )
    with tempfile.TemporaryDirectory(prefix="cp-lesson8-") as folder:
        backup = Path(folder) / "backup.tar"
        stream, _ = holder.get_archive("/data")
        with open(backup, "wb") as out:
            for chunk in stream:
                out.write(chunk)
        holder.remove()
        with tarfile.open(backup) as archive:
            names = sorted(m.name for m in archive.getmembers() if m.isfile())
        yield Step(
            "Back it up to a tar file",
            "Docker hands out a folder of a container as a tar stream: that is a backup.",
            f"docker cp {lab.name('backup')}:/data - > backup.tar",
            f"{backup.stat().st_size} bytes: {', '.join(names)}",
        )

        restored = lab.name("restored")
        lab.client.volumes.create(restored, labels=lab.labels())
        target = lab.client.containers.create(
            IMAGE,
            ["true"],
            name=lab.name("restore"),
            labels=lab.labels(),
            volumes={restored: {"bind": "/restore", "mode": "rw"}},
        )
        target.put_archive("/restore", backup.read_bytes())
        target.remove()
    again = _sh(lab, "cat /restore/data/note1.txt", {restored: "/restore"}, "check")
    yield Step(
        "Restore into a new volume",
        "Unpacking the tar into a fresh volume gives the same data, anywhere.",
        f"docker volume create {restored} && docker cp - {lab.name('restore')}:/restore < backup.tar",
        again,
    )
    if again != note:
        raise LessonFailed(f"The restored volume holds {again!r}, not the note.")

    # Share: two containers, one volume, at the same time.
    shared = lab.name("shared")
    lab.client.volumes.create(shared, labels=lab.labels())
    reader = lab.client.containers.run(
        IMAGE,
        [
            "sh",
            "-c",
            "for i in $(seq 1 100); do [ -f /in/msg ] && cat /in/msg && exit 0; sleep 0.1; done; exit 1",
        ],
        name=lab.name("listener"),
        labels=lab.labels(),
        volumes={shared: {"bind": "/in", "mode": "ro"}},
        detach=True,
    )
    _sh(lab, 'printf "%s" "shared by two containers" > /out/msg', {shared: "/out"}, "talker")
    code = reader.wait(timeout=30)["StatusCode"]
    heard = reader.logs().decode().strip()
    yield Step(
        "Share one volume between two containers",
        "Both mount the same volume: what one writes, the other reads at once "
        "(the listener mounts it read-only).",
        f"docker run -v {shared}:/in:ro ... cat /in/msg  |  docker run -v {shared}:/out ... > /out/msg",
        heard,
    )
    if code != 0 or heard != "shared by two containers":
        raise LessonFailed(f"The second container did not see the first one's file ({heard!r}).")
