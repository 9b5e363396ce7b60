# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill's verdict on a sample of Secrets read from a restored etcd with the bundle's EncryptionConfiguration."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ansible_collections.etcdops.dr.plugins.module_utils._bundle.encryption_config import SecretsEncryption
from ansible_collections.etcdops.dr.plugins.module_utils._bundle.stored_values import (
    KMS_NOT_CHECKED, STATES, decrypt_stored_value)

UNENCRYPTED = "Secrets are stored unencrypted"


def summarize_secrets(config: SecretsEncryption, samples: Iterable[tuple[str | bytes, bytes]]) -> dict[str, Any]:
    """Counts per state and per provider, each failure with its etcd key and reason, and notes for the report.

    `checked` is False when there was no sample (the check did not run); `ok` is True only when it ran and nothing
    failed. `stale` counts values readable but not written by the writing provider and key (not yet rotated)."""
    totals = {state: 0 for state in STATES}
    by_provider: dict[str, dict[str, Any]] = {}
    failures: list[dict[str, str]] = []
    writer = config.writer
    writing_key = writer.keys[0].name if writer.keys else (writer.name if writer.kind == "kms" else "")
    stale = 0
    for etcd_key, value in samples:
        reading = decrypt_stored_value(config, etcd_key, value)
        totals[reading.state] += 1
        entry = by_provider.setdefault(reading.provider or "unknown", {**{state: 0 for state in STATES}, "keys": {}})
        entry[reading.state] += 1
        if reading.key_name:
            entry["keys"][reading.key_name] = entry["keys"].get(reading.key_name, 0) + 1
        if reading.state == "failed":
            name = etcd_key.decode("utf-8", "replace") if isinstance(etcd_key, bytes) else etcd_key
            failures.append({"key": name, **reading.describe()})
        elif (reading.provider, reading.key_name) != (writer.kind, writing_key):
            stale += 1
    count = sum(totals.values())
    notes = []
    if count == 0:
        notes.append("no Secret was sampled: not checked")
    if writer.kind == "identity":
        notes.append(UNENCRYPTED + ": the first provider for secrets is identity")
    elif totals["unencrypted"]:
        notes.append("%d of %d sampled Secrets are stored unencrypted" % (totals["unencrypted"], count))
    if totals["kms"]:
        notes.append("%d Secrets under a KMS provider: %s" % (totals["kms"], KMS_NOT_CHECKED))
    if stale:
        notes.append("%d Secrets are not yet under the writing provider %s%s" % (
            stale, writer.label, " key " + writing_key if writer.keys else ""))
    return {"checked": count > 0, "ok": count > 0 and not totals["failed"], "samples": count, **totals,
            "stale": stale, "by_provider": by_provider, "failures": failures, "notes": notes,
            "config": config.describe()}
