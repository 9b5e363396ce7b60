# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # The connection options every etcdops.dr module that talks to etcd shares (their spec: _argspec.CONNECTION), and
    # the action group through which module_defaults sets them once.
    DOCUMENTATION = r"""
attributes:
  action_group:
    description: Use C(group/etcdops.dr.etcd) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - etcdops.dr.etcd
options:
  endpoints:
    description:
      - Client URLs of the etcd members to talk to, such as V(https://10.0.0.1:2379).
      - Each must be C(https://) or C(http://), a host and a port.
    type: list
    elements: str
    default: ['https://127.0.0.1:2379']
  cacert:
    description:
      - CA certificate that signed the etcd server certificates (kubeadm C(/etc/kubernetes/pki/etcd/ca.crt)).
      - Required for C(https://) endpoints.
    type: path
  cert:
    description:
      - Client certificate, for clusters that require client certificates (kubeadm
        C(/etc/kubernetes/pki/etcd/healthcheck-client.crt) or C(/etc/kubernetes/pki/apiserver-etcd-client.crt)).
    type: path
  key:
    description:
      - Private key of O(cert).
    type: path
  cacert_pem:
    description:
      - The text of O(cacert) (PEM), for TLS material that is not on the host, such as an AWX credential's.
      - Kept in this module's memory (a memfd), never written to disk. Mutually exclusive with O(cacert).
    type: str
  cert_pem:
    description:
      - The text of O(cert) (PEM). Mutually exclusive with O(cert).
    type: str
  key_pem:
    description:
      - The text of O(key) (PEM); never logged. Mutually exclusive with O(key).
    type: str
  user:
    description:
      - User name, for clusters with etcd authentication enabled. Requires O(password).
    type: str
  password:
    description:
      - Password of O(user).
    type: str
  dial_timeout:
    description:
      - Seconds to wait for the TCP connection to each endpoint.
    type: float
    default: 5
  command_timeout:
    description:
      - Seconds each request to etcd may take (TLS handshake and authentication included).
    type: float
    default: 15
  client_library:
    description:
      - Python etcd client to use on the host that runs the module.
      - V(auto) uses C(etcd-sdk-python) (import name C(pyetcd)) if installed, else C(etcd3).
    type: str
    choices: [auto, pyetcd, etcd3]
    default: auto
requirements:
  - etcd-sdk-python >= 0.0.7 (import name C(pyetcd)) with protobuf >= 5.27.2 and grpcio >= 1.66.2, or etcd3 == 0.12.0,
    on the host that runs the module.
notes:
  - The connection options can be set once for all modules with
    C(module_defaults) and the action group C(group/etcdops.dr.etcd).
"""
