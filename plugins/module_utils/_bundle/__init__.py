# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The control-plane bundle's checks: kube-apiserver's EncryptionConfiguration and the Secrets it wrote into etcd
(encryption_config, stored_values, secretbox), the cluster's certificates (certs) and new ones issued as kubeadm
issues them (cert_issue). Pure functions: no host, no Ansible."""
