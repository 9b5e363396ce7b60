#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: etcd_service
short_description: Stop, start or restart the etcd member on this host, and wait until it really is
version_added: 0.1.0
description:
  - Controls the etcd member that runs on the target host through the manager that runs it, a systemd unit, a
    kubeadm static pod or a supervisor program, and waits until the change is real.
  - V(stopped) means the manager no longer runs etcd, the etcd process has exited and nothing listens on the member's
    client and peer ports any more. Only then can a restore touch the data dir, or a new etcd bind the ports.
  - V(started) means the member answers a health check on O(endpoint) (it has a leader and serves a linearizable
    read). A member serves only once a majority of the cluster's members run, so start the members of a stopped
    cluster together, in one task across the hosts.
  - When a wait times out the module fails with what still runs, or with the last health check error and the last
    lines of the member's log.
  - O(endpoints) is not used; the health check goes to O(endpoint), the member on this host.
  - In every mode, check mode included, and before it acts, the module also reads how this host's member is
    configured - its name, initial advertise peer URLs, data dir and WAL dir - from every source it finds, as etcd
    itself would read them, and returns them in RV(member_config) (see there). It only reads; what it finds never
    makes the module fail or change anything.
extends_documentation_fragment:
  - etcdops.dr.attributes
  - etcdops.dr.connection
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    details: Reports the manager, the current state and the actions it would take; it neither acts nor waits.
  platform:
    details: Linux; it reads C(/proc) to find the etcd process and the listeners on its ports.
options:
  state:
    description:
      - V(stopped) stops etcd and waits until its process has exited and its ports are free.
      - V(started) starts etcd if its manager does not run it, and waits until the member answers a health check.
      - V(restarted) stops it as V(stopped) does if it runs, then starts it as V(started) does. Always changes.
    type: str
    required: true
    choices: [started, stopped, restarted]
  manager:
    description:
      - What runs etcd on this host.
      - V(auto) picks V(static_pod) when the manifest is in O(manifest_dir) or O(held_manifest_dir), else
        V(supervisor) when supervisord knows the program O(name), else V(systemd) when systemd is the init
        system and has the unit O(name). RV(manager) says which one it picked.
    type: str
    choices: [auto, systemd, static_pod, supervisor]
    default: auto
  name:
    description: The systemd unit (C(.service) is added when there is no suffix) or the supervisor program.
    type: str
    default: etcd
  supervisor_conf:
    description:
      - Configuration file of the supervisord that runs etcd. Its C([supervisorctl]) section's C(serverurl),
        C(username) and C(password) say where and how to reach supervisord's XML-RPC interface, as for
        C(supervisorctl -c).
      - RV(member_config) reads the program's C(command=) from it (and the files its C([include]) names); when unset,
        from the first of C(<supervisorctl's prefix>/etc/supervisord.conf), C(/etc/supervisord.conf) and
        C(/etc/supervisor/supervisord.conf) that exists.
    type: path
  supervisorctl:
    description:
      - Path of C(supervisorctl) on the host; without O(supervisor_conf), the configuration is where it looks
        (C(<its prefix>/etc/supervisord.conf) first). When unset, C(supervisorctl) is looked for on the C(PATH)
        that the module runs with (with O(manager=auto), none there and no O(supervisor_conf) means etcd is not a
        supervisor program). The module does not run it; it talks to supervisord directly.
    type: path
  config_file:
    description:
      - A file that configures etcd on this host, read as one more source of RV(member_config) - an etcd YAML config
        file (what C(--config-file) names), an environment file with C(ETCD_) variables, or a static pod manifest.
      - A file that does not exist or is none of these is reported in RV(member_config_unread); the module does not
        fail for it.
    type: path
  manifest_dir:
    description: The kubelet's static pod directory.
    type: path
    default: /etc/kubernetes/manifests
  manifest_name:
    description: File name of the etcd static pod manifest.
    type: str
    default: etcd.yaml
  held_manifest_dir:
    description:
      - Where the manifest is kept while etcd is stopped. It must be outside O(manifest_dir), because the kubelet
        runs every manifest in that directory. Created with mode 0700 when missing.
    type: path
    default: /etc/kubernetes/etcdops-held-manifests
  pod_log_dir:
    description: Where the kubelet writes container logs; the newest C(*_etcd-*/*/*.log) in it is the member's log.
    type: path
    default: /var/log/pods
  log_file:
    description:
      - The member's log file. When unset the log comes from the manager (C(journalctl), supervisord's log of the program) or
        O(pod_log_dir).
    type: path
  log_lines:
    description:
      - How many of the member's last log lines a failure message carries. etcd prints its usage (about 20 lines)
        after a flag error, so fewer lines would show only the usage.
    type: int
    default: 40
  timeout:
    description: Seconds to wait for each of stop and start. Kubelets notice manifest changes only every 20 seconds.
    type: float
    default: 120
  endpoint:
    description: Client URL of the member on this host; the health check and the port check use it.
    type: str
    default: https://127.0.0.1:2379
  peer_url:
    description: Peer URL the member listens on. When unset, any listener on port 2380 counts as the member's.
    type: str
author:
  - etcdops.dr maintainers (@etcdops)
"""

EXAMPLES = r"""
- name: Stop etcd on every member of a kubeadm cluster
  etcdops.dr.etcd_service:
    state: stopped
    manager: static_pod
    endpoint: "https://{{ ansible_host }}:2379"
    peer_url: "https://{{ ansible_host }}:2380"

- name: Start them again, together, and wait until each answers health
  etcdops.dr.etcd_service:
    state: started
    endpoint: "https://{{ ansible_host }}:2379"
    cacert: /etc/kubernetes/pki/etcd/ca.crt
    cert: /etc/kubernetes/pki/etcd/healthcheck-client.crt
    key: /etc/kubernetes/pki/etcd/healthcheck-client.key
    timeout: 180

- name: Restart the etcd systemd unit
  etcdops.dr.etcd_service:
    state: restarted
    manager: systemd
    name: etcd
"""

RETURN = r"""
manager:
  description: The manager used, V(systemd), V(static_pod) or V(supervisor); null when it could not be chosen.
  returned: always
  type: str
  sample: static_pod
manager_auto:
  description: Whether RV(manager) was detected (O(manager=auto)).
  returned: always
  type: bool
service:
  description: The unit, program or manifest that runs etcd.
  returned: always
  type: str
  sample: static pod manifest /etc/kubernetes/manifests/etcd.yaml
before:
  description: What the manager reported before any action.
  returned: always
  type: str
  sample: "etcd-node1 RUNNING pid 4242, uptime 0:10:11"
actions:
  description: What was done (or, in check mode, would be done), in order, V(stop) and V(start).
  returned: always
  type: list
  elements: str
stopped_processes:
  description: The processes that listened on the member's ports before a stop and have exited.
  returned: always
  type: list
  elements: str
healthy:
  description: Whether the member answered a health check; null when the state is V(stopped) or in check mode.
  returned: always
  type: bool
waited_seconds:
  description: Seconds from the first action until the state was proven (or, with no action, spent proving it).
  returned: always
  type: float
log_tail:
  description: The member's last log lines, on a failed start; empty otherwise.
  returned: always
  type: list
  elements: str
member_config:
  description:
    - How this host's member is configured, one entry for each source that was read, read before any action.
    - "The sources: the running etcd process - the process that listens on O(endpoint) or O(peer_url), its
      C(/proc/<pid>/cmdline) and C(/proc/<pid>/environ), and the file its C(--config-file) names, read through
      C(/proc/<pid>/root) (a containerised etcd sees its own filesystem); what the manager starts, whether or not
      etcd runs now - the supervisor program's C(command=) and C(environment=), the systemd unit's C(ExecStart),
      C(Environment) and C(EnvironmentFiles) (from C(systemctl show)), or the static pod manifest's etcd container;
      and O(config_file)."
    - "Each is read as etcd reads its configuration: flags as Go's flag package parses them (C(--name=x),
      C(--name x), C(-name x)); an C(ETCD_) environment variable applies only where its flag is absent; with
      C(--config-file) (or C(ETCD_CONFIG_FILE)) etcd reads that file alone and ignores every other flag and
      variable, and so does this."
    - Empty when no source could be read; RV(member_config_missing) then says why.
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: Where the entry was read, for people.
      type: str
      sample: supervisor program etcd-node1 in /etc/supervisor/supervisord.conf, config file /etc/etcd/etcd.conf.yml
    kind:
      description: V(process), V(supervisor), V(systemd) or V(static_pod); for O(config_file), V(config_file) (etcd
        YAML), V(environment) or V(static_pod).
      type: str
    name:
      description: The member's name; null where the source does not set it.
      type: str
    initial_advertise_peer_urls:
      description: The member's initial advertise peer URLs; null where the source does not set them.
      type: list
      elements: str
    data_dir:
      description: The member's data dir; null where the source does not set it.
      type: str
    wal_dir:
      description: The member's WAL dir; null where the source does not set it.
      type: str
  sample:
    - source: running process pid 4242 (/proc/4242/cmdline)
      kind: process
      name: cp1
      initial_advertise_peer_urls: ["https://10.0.0.11:2380"]
      data_dir: /var/lib/etcd
      wal_dir: null
member_config_missing:
  description:
    - Null when RV(member_config) has an entry; else one sentence saying why no source was read (etcd does not run,
      what the manager starts could not be read and why, no O(config_file)). A check built on RV(member_config)
      must then be reported as not run.
  returned: always
  type: str
  sample: "etcd does not run on this host (nothing listens on 10.0.0.13:2379 or 10.0.0.13:2380); supervisor program
    etcd in /etc/supervisor/supervisord.conf runs /usr/local/bin/run-etcd.sh, not etcd, so etcd's flags cannot be
    read from it; no config_file was given."
member_config_unread:
  description: One sentence for each source that exists but could not be read (a process this user cannot see, a
    wrapper script instead of etcd, a missing config file), whether or not another source was read.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.etcdops.dr.plugins.module_utils._runner import run_module
from ansible_collections.etcdops.dr.plugins.module_utils._service.member import ARGUMENT_SPEC, MemberService


def main():
    run_module(ARGUMENT_SPEC, MemberService)


if __name__ == "__main__":
    main()
