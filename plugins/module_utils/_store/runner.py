# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the store modules' runners share (etcd_store_list, etcd_store_download, etcd_store_upload): one store each,
connected in plan() and closed in close(), a password written into its URL masked from the start, and failures that
return their message alone."""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from ansible_collections.etcdops.dr.plugins.module_utils._argspec import STORE_OPTIONS, ArgumentSpec
from ansible_collections.etcdops.dr.plugins.module_utils._errors import EtcdOpsError
from ansible_collections.etcdops.dr.plugins.module_utils._store import ops

if TYPE_CHECKING:
    from ansible_collections.etcdops.dr.plugins.module_utils._host.run import HostContext
    from ansible_collections.etcdops.dr.plugins.module_utils._store.base import Store


def store_spec(**options: dict[str, Any]) -> ArgumentSpec:
    """A store module's options: `store` (doc fragment etcdops.dr.store) and its own."""
    return ArgumentSpec(dict(store=dict(type="dict", required=True, options=STORE_OPTIONS), **options))


class OnStore:
    """What the store runners share: the options, the host, the store's connection and how a failure reads."""

    def __init__(self, params: dict[str, Any], host: HostContext, result: dict[str, Any]) -> None:
        self.params = params
        self.host = host
        host.no_log(ops.url_secrets(params["store"]))
        self.result = result
        self.store: Store[Any] | None = None
        self._connection = contextlib.ExitStack()

    def _connect(self) -> Store[Any]:
        """The store of the options, connected until close(). Raises StoreError."""
        self.store = self._connection.enter_context(ops.open_store(self.params["store"]))
        return self.store

    def close(self) -> None:
        self._connection.close()

    def failed(self, exc: Exception) -> str:
        self.result.clear()
        if isinstance(exc, EtcdOpsError):
            return exc.msg
        return self._host_failure(exc)

    def _host_failure(self, exc: Exception) -> str:
        return str(exc)


class Transfer(OnStore):
    """A transfer decided and done by one ops function of both modes: plan() makes the checks before it, then in check
    mode runs it to say what would change; apply() runs it to do it. Either way the store is read once per run."""

    def plan(self) -> None:
        self._check()
        if self.host.check_mode:
            self._transfer()

    def apply(self) -> None:
        self._transfer()

    def _check(self) -> None:
        raise NotImplementedError

    def _transfer(self) -> None:
        raise NotImplementedError
