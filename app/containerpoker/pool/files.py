"""What each user uploaded, kept by the platform, so that a replacement gets the same files.

On one host a replacement reuses the container's volume; across a Swarm, a container whose node
is lost (or drained) is re-created on another node, where that volume does not exist. So every
upload, once checked, is also kept in ``<data_dir>/files/<container>/NNNNNN.tar`` (the clean tar
that went into the container), and a replacement on another node gets them again, in order.
The copy is written first, atomically (a temporary file renamed): an upload the platform cannot
keep (a full disk) is refused before anything reaches the container. A release or an expiry
deletes the copies with the container.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from ..errors import UploadRejected


class KeptFiles:
    """The uploads of each assignment, in order."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "files"

    def keep(self, name: str, tar: bytes) -> None:
        """Keep one upload of container ``name``; :class:`UploadRejected` when it cannot be."""
        folder = self.root / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            number = len(list(folder.glob("*.tar"))) + 1
            final = folder / f"{number:06d}.tar"
            partial = folder / f".{number:06d}.tar.partial"
            with open(partial, "wb") as handle:
                handle.write(tar)
                handle.flush()
                os.fsync(handle.fileno())
            partial.rename(final)
        except OSError as exc:
            with contextlib.suppress(OSError, UnboundLocalError):
                partial.unlink(missing_ok=True)
            raise UploadRejected(
                f"The platform cannot keep a copy of your files ({exc.strerror}): nothing was "
                "uploaded. Tell an admin (the platform's data folder may be full), then retry."
            ) from None

    def uploads(self, name: str) -> list[bytes]:
        """Every upload kept for ``name``, oldest first."""
        folder = self.root / name
        return [path.read_bytes() for path in sorted(folder.glob("*.tar"))]

    def forget(self, name: str) -> None:
        shutil.rmtree(self.root / name, ignore_errors=True)
