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
      reading), C(cluster) (the inventory's member names and peer URLs), C(failure) (why it stopped, if it did).
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

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.etcdops.dr.plugins.module_utils._drill import report as drill_report
from ansible_collections.etcdops.dr.plugins.module_utils._host.files import write_atomic

VIEWS = (("json", ".json", drill_report.as_json), ("markdown", ".md", drill_report.markdown),
         ("html", ".html", drill_report.page))


def main():
    module = AnsibleModule(argument_spec=dict(
        drill=dict(type="dict", required=True), dest_dir=dict(type="path", required=True),
        name=dict(type="str", required=True), max_rto=dict(type="str"), max_rpo=dict(type="str"),
        cluster=dict(type="str", default="etcd")), supports_check_mode=True)
    params = module.params
    if "/" in params["name"] or params["name"] in ("", ".", ".."):
        module.fail_json(msg="name %r must be a plain file name (no /): the reports go into dest_dir" % params["name"])
    try:
        doc = drill_report.build(params["drill"], params["max_rto"], params["max_rpo"])
    except (drill_report.ReportError, KeyError, TypeError, ValueError) as exc:
        module.fail_json(msg="the drill's measurements cannot make a report: %s" % getattr(exc, "msg", repr(exc)))
    textfile = drill_report.textfile(doc, params["cluster"])
    base = os.path.join(params["dest_dir"], params["name"])
    files = {kind: base + suffix for kind, suffix, dummy in VIEWS}
    files["textfile"] = base + ".prom"
    if not module.check_mode:
        try:
            os.makedirs(params["dest_dir"], mode=0o755, exist_ok=True)
            for kind, suffix, render in VIEWS:
                write_atomic(base + suffix, render(doc).encode("utf-8"), mode=0o644)
            write_atomic(files["textfile"], textfile.encode("utf-8"), mode=0o644)
        except OSError as exc:
            module.fail_json(msg="cannot write the drill's reports into %s: %s; give a dest_dir this user can write"
                             % (params["dest_dir"], exc), report=doc)
    module.exit_json(changed=not module.check_mode, report=doc, passed=doc["result"] == "passed",
                     summary=drill_report.summary(doc), files=files, textfile=textfile)


if __name__ == "__main__":
    main()
