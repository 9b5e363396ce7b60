# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # How etcd runs on the member's host, for the modules that stop, start and read it as etcd_service does (the
    # restore's and the replacement's phases); its option spec is _argspec.MEMBER_SERVICE.
    DOCUMENTATION = r"""
options:
  service_manager:
    description: M(etcdops.dr.etcd_service)'s O(etcdops.dr.etcd_service#module:manager).
    type: str
    default: auto
    choices: [auto, systemd, static_pod, supervisor]
  service_name:
    description: M(etcdops.dr.etcd_service)'s O(etcdops.dr.etcd_service#module:name).
    type: str
    default: etcd
  supervisor_conf:
    description: supervisord's configuration, for etcd (and kube-apiserver) run by supervisor.
    type: path
  supervisorctl:
    description: Path of supervisorctl.
    type: path
  config_file:
    description: etcd's config file or environment file, one more source of etcd's configuration (read, and changed
      where the module changes it and the manager's definition names no other).
    type: path
  manifest_dir:
    description: The kubelet's static pod manifests dir (etcd's manifest).
    type: path
    default: /etc/kubernetes/manifests
  held_manifest_dir:
    description: Where etcd's manifest is held while etcd is stopped.
    type: path
    default: /etc/kubernetes/etcdops-held-manifests
  pod_log_dir:
    description: The kubelet's pod log dir.
    type: path
    default: /var/log/pods
  log_file:
    description: etcd's log file, quoted when a start fails.
    type: path
"""
