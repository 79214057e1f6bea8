"""Build the runtime images from the project's own Dockerfiles.

Each image is labelled with a hash of its build context (its own folder,
``common/`` and the base image's id); an image whose label matches is
current and is not rebuilt, so ``images build`` is a no-op when nothing
changed.  When the base ``debian:bookworm-slim`` is missing it is provided by
``base/build-base.sh`` (pull where a registry answers, else debootstrap).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from .config import Settings
from .engine import Engine, label
from .errors import ConfigError, ContainerPokerError, EngineError, ImageMissing

HASH_LABEL = label("build-hash")
Progress = Callable[[str, str], None]  # (runtime, line)


def _images_dir(settings: Settings) -> Path:
    path = settings.images_dir
    if not (path / "common").is_dir():
        raise ConfigError(
            f"The runtime images' Dockerfiles are not at {path}: set CONTAINERPOKER_IMAGES_DIR "
            "to the project's infrastructure/images folder."
        )
    return path


def context_hash(images_dir: Path, runtime: str, base_id: str) -> str:
    """A hash of everything that goes into one runtime image."""
    digest = hashlib.sha256(base_id.encode())
    for folder in ("common", runtime):
        for file in sorted((images_dir / folder).rglob("*")):
            if file.is_file():
                digest.update(str(file.relative_to(images_dir)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:24]


def ensure_base(settings: Settings, engine: Engine, progress: Progress) -> str:
    """Make sure the base image exists; return its id."""
    name = settings.base_image
    found = engine.image_id(name)
    if found is not None:
        return found
    script = _images_dir(settings) / "base" / "build-base.sh"
    progress("base", f"{name} is missing: providing it with {script.name} (pull, else debootstrap)")
    # Its lines are progress: stderr, so that `--json` output stays JSON.
    try:
        out = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        out = None
    env = {**os.environ, "CONTAINERPOKER_BASE_IMAGE": name}  # the script builds this name
    result = subprocess.run(["bash", str(script)], check=False, stdout=out, env=env)
    if result.returncode != 0:
        raise ImageMissing(
            f"The base image {name} could not be provided (see the lines above); "
            "fix that, then run `containerpoker images build` again."
        )
    return engine.image_id(name) or ""


def image_state(settings: Settings, engine: Engine) -> dict[str, str]:
    """For each runtime: ``current``, ``outdated`` or ``missing``."""
    images_dir = _images_dir(settings)
    base_id = engine.image_id(settings.base_image)
    states = {}
    for name, cfg in settings.runtimes.items():
        labels = engine.image_labels(cfg.image)
        if labels is None:
            states[name] = "missing"
            continue
        if base_id is None or not (images_dir / name / "Dockerfile").is_file():
            states[name] = "current"  # nothing to compare against: keep what is there
            continue
        wanted = context_hash(images_dir, name, base_id)
        states[name] = "current" if labels.get(HASH_LABEL) == wanted else "outdated"
    return states


def build_images(
    settings: Settings,
    engine: Engine,
    runtimes: Iterable[str] | None = None,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> dict[str, str]:
    """Build what is missing or outdated; return ``{runtime: "built" | "current"}``."""
    say = progress or (lambda runtime, line: None)
    names = list(runtimes or settings.runtimes)
    for name in names:
        settings.runtime(name)
    images_dir = _images_dir(settings)
    base_id = ensure_base(settings, engine, say)
    results = {}
    for name in names:
        cfg = settings.runtime(name)
        dockerfile = images_dir / name / "Dockerfile"
        if not dockerfile.is_file():
            engine.require_image(cfg)
            results[name] = "current"
            continue
        wanted = context_hash(images_dir, name, base_id)
        labels = engine.image_labels(cfg.image) or {}
        if not force and labels.get(HASH_LABEL) == wanted:
            say(name, f"{cfg.image} is current")
            results[name] = "current"
            continue
        say(name, f"building {cfg.image} ...")
        _build_one(engine, images_dir, name, cfg.image, wanted, say)
        results[name] = "built"
    return results


def _build_one(
    engine: Engine, images_dir: Path, name: str, tag: str, wanted: str, say: Progress
) -> None:
    labels = {HASH_LABEL: wanted, label("image"): name}
    try:
        for line in engine.build_image(images_dir, f"{name}/Dockerfile", tag, labels):
            if line.startswith("Step "):
                say(name, line)
    except EngineError as exc:
        raise ContainerPokerError(
            f"{exc.message.rstrip('.')}. Fix infrastructure/images/{name}/Dockerfile (or the "
            "network to Debian's mirror) and run `containerpoker images build` again."
        ) from None
    say(name, f"built {tag}")
