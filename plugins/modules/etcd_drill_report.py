#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_drill_report
short_description: Judge a DR drill and write its reports (JSON, Markdown, HTML, Prometheus textfile)
version_added: 0.1.0
description:
  - Turns what a drill measured (O(drill), gathered by the C(etcdops.dr.drill) role) into one JSON document - the
    checks with their results, RTO and RPO, the phases, the Kubernetes objects compared with the live cluster -
    and writes it with its three views into O(dest_dir) - C(<name>.json), C(<name>.md), C(<name>.html) (one page,
    nothing fetched from a network) and C(<name>.prom) (node_exporter's textfile format) - each written atomically.
  - The document's schema is in C(docs/drill.md). The drill passes when no check failed and no failure was given;
    a check that could not run is reported as not run, with why.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Judges the drill and returns the document; writes nothing.
options:
  drill:
    description: What the drill measured - C(mode), C(started) and C(verified) (Unix times), C(phases), C(snapshot)
      (a check of the file), C(members) (their readings), C(expected_revision), C(live) (the live cluster's
      reading), C(cluster) (the inventory's member names and peer URLs), C(failure) (why it stopped, if it did),
      C(bundles) (the bundle check made on the drill host, or why it could not run).
    type: dict
    required: true
  dest_dir:
    description: Where the reports go (created 0755 when missing).
    type: path
    required: true
  name:
    description: Base name of the four files.
    type: str
    required: true
  max_rto:
    description: The drill fails when its RTO is longer; seconds, or a number with s, m, h or d.
    type: str
  max_rpo:
    description: The drill fails when its snapshot was older than this at the drill's start.
    type: str
  cluster:
    description: The C(cluster) label of the textfile metrics.
    type: str
    default: etcd
  bundles_snapshot:
    description:
      - The drilled snapshot's file on this host (the controller). When given, the control-plane bundles beside it
        (C(<snapshot>.bundle-<host>.tar[.enc])) are checked here, in this process - each archive opened with
        O(decryption_key) and every file's sha256 matched, its certificates chained to the bundled CAs with their
        expiry, and its EncryptionConfiguration proven on a sample of the Secrets in the snapshot's database (read
        and, when encrypted, decrypted in memory) - and reported with the drill. Nothing is written but the reports,
        which hold no key material.
      - Without it, the check the drill module made on the drill host (O(drill) C(bundles)) is reported, if any.
    type: path
  decryption_key:
    description: X25519 private key (PEM) that opens encrypted bundles and an encrypted snapshot. Never logged.
    type: str
  bundles_sample:
    description: At most this many Secrets (C(/registry/secrets/) keys, the newest written first) are read from the
      snapshot to prove each bundle's EncryptionConfiguration.
    type: int
    default: 20
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Write the drill's reports on the controller
  etcdops.dr.etcd_drill_report:
    drill: "{{ measured }}"
    dest_dir: /srv/etcd-drills
    name: drill-20261126T020000Z
    max_rto: 15m
  delegate_to: localhost
  register: report
"""

RETURN = r"""
report:
  description: The JSON document (schema in C(docs/drill.md)).
  returned: always
  type: dict
passed:
  description: Whether the drill passed.
  returned: always
  type: bool
summary:
  description: One line saying what the drill proved, or why it failed.
  returned: always
  type: str
files:
  description: The paths written, by kind (V(json), V(markdown), V(html), V(textfile)).
  returned: always
  type: dict
textfile:
  description: The Prometheus textfile's content, to place on a node_exporter host.
  returned: always
  type: str
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._drill.report import ARGUMENT_SPEC, DrillReport


def main():
    run_module(ARGUMENT_SPEC, DrillReport)


if __name__ == "__main__":
    main()
