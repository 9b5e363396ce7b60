# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every backup store kind shares: its error, the files it lists, and what a store does (Store)."""
from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._store.url import StoreUrl

# What a store's stage() returns and its commit() and discard() take: SFTP a temporary file's name, S3 an upload.
Staged = TypeVar("Staged")


class StoreError(EtcdOpsError):
    """A store that cannot be reached, read or written; msg names the store, the problem and the fix."""


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    mtime: float


class Store(Protocol[Staged]):
    """A backup store (_store.sftp.SftpStore, _store.s3.S3Store), as _store.ops and the store runners use it: made
    by ops.open_store(), connected as a context manager. Every failure is a StoreError whose msg names the store,
    the problem and the fix."""

    @property
    def url(self) -> StoreUrl:
        """Where the store is; str() of it names the store in messages and results."""

    @property
    def verified_by(self) -> str:
        """How the last committed file was verified on the store (before an upload: how it will be)."""

    @property
    def read_ahead(self) -> bool:
        """Whether an upload's file is read and hashed by a thread of its own while the store sends (ops)."""

    @property
    def host_key_added(self) -> str | None:
        """The server's host key that connecting added to known_hosts ('type SHA256:...'), else None."""

    @property
    def seconds(self) -> dict[str, float]:
        """Seconds spent sending ('send') and reading back ('read_back') in this connection."""

    def __enter__(self) -> Store[Staged]:
        """Connect; raises StoreError."""

    def __exit__(self, *exc_info: object) -> None:
        """Disconnect."""

    def check_dir(self) -> None:
        """Fail unless the store's dir (bucket and prefix) exists and can be listed."""

    def free_bytes(self) -> int | None:
        """Free space on the store, or None when it does not say."""

    def list(self) -> builtins.list[StoredFile]:
        """The files in the store's dir (under its prefix), no deeper."""

    def stale(self, files: builtins.list[StoredFile], older_than: float) -> builtins.list[str]:
        """What uploads that died more than `older_than` seconds ago left behind (`files`: the store's listing),
        each removed by remove_stale()."""

    def remove_stale(self, stale: str, /) -> None:
        """Remove one of stale()'s leftovers."""

    def read_small(self, name: str, limit: int = ...) -> bytes:
        """The first `limit` bytes of `name` (a manifest)."""

    def read_chunks(self, name: str, size: int) -> Iterator[bytes]:
        """The first `size` bytes of `name` (fewer if it is shorter), chunk by chunk."""

    def stage(self, name: str, chunks: Iterator[bytes], size: int, sha256: Callable[[], str]) -> Staged:
        """Send `chunks` (`size` bytes) for `name`, out of sight until commit(); verified against `sha256()`, which
        gives the sha256 once every chunk was taken. On any failure nothing is left behind."""

    def discard(self, staged: Staged, /) -> None:
        """Drop what stage() sent, after a failure; never raises."""

    def commit(self, staged: Staged, name: str, sha256: str, /) -> None:
        """Give what stage() sent the name `name`, verified to have `sha256` there."""

    def remove(self, name: str) -> None:
        """Remove `name`."""
