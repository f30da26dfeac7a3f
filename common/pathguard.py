"""Folders named in configuration (directory feeds, file drop endpoints) stay under one root.

`DOM_FEED_ROOT` is the only part of the server's file system such a folder may name. A configured folder is
either relative to the root or an absolute path inside it; `..` is refused outright and symbolic links are
resolved before the check, so nothing outside the root is read, moved or written.

This module imports no other app of the project.
"""

from __future__ import annotations

from pathlib import Path, PurePath

from django.conf import settings


class PathRefused(Exception):
    """The folder is outside the configured root (or names `..`)."""


def path_root() -> Path:
    """The configured root, resolved (symbolic links followed)."""
    return Path(settings.DOM_FEED_ROOT).resolve()


def path_inside_root(*, path: Path) -> bool:
    """True when `path`, with every symbolic link resolved, is the root or inside it."""
    return path.resolve().is_relative_to(path_root())


def path_under_root(*, folder: str) -> Path:
    """The resolved folder for a configured value, or PathRefused naming the rule that it breaks."""
    if not folder or not folder.strip():
        raise PathRefused("No folder given.")
    if "\x00" in folder:
        raise PathRefused("The folder name contains a NUL character.")
    if ".." in PurePath(folder).parts:
        raise PathRefused("The folder must not contain '..'.")
    root = path_root()
    resolved = (root / folder).resolve()  # an absolute `folder` replaces the root here
    if not resolved.is_relative_to(root):
        raise PathRefused(f"The folder must be inside the feed root (DOM_FEED_ROOT, {root}).")
    return resolved
