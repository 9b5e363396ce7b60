# -*- coding: utf-8 -*-
# Copyright: etcdops.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # One off-host backup store (_argspec.STORE_OPTIONS): its URL and how to reach it.
    DOCUMENTATION = r"""
requirements:
  - paramiko >= 3.4 on the host the module runs on (for sftp:// stores)
  - boto3 >= 1.34 on the host the module runs on (for s3:// stores)
options:
  store:
    description: The backup store.
    type: dict
    required: true
    suboptions:
      url:
        description:
          - C(sftp://user@host[:port]/dir) (SFTP over SSH, key authentication). The dir must exist on the server.
          - C(s3://bucket[/prefix]) (S3, or an S3-compatible store with O(store.endpoint_url)). The bucket must exist.
          - Credentials never go in the URL.
        type: str
        required: true
      key_file:
        description: Private key to log in with, on the host the module runs on. Without it, the keys of the SSH
          agent (C(SSH_AUTH_SOCK)) are tried.
        type: path
      key_passphrase:
        description: Passphrase of O(store.key_file), if it has one.
        type: str
      known_hosts:
        description:
          - known_hosts file the server's host key is checked against (C(~/.ssh/known_hosts) when not given). An
            unknown host key is refused with its fingerprint in the message; a changed one always is.
        type: path
      accept_new_host_key:
        description: Trust an unknown host key on first use and add it to O(store.known_hosts) (as OpenSSH's
          C(StrictHostKeyChecking=accept-new)). A changed key is still refused.
        type: bool
        default: false
      timeout:
        description: Seconds to wait for the server to connect and answer (S3 - to connect; an answer may take ten
          times this, as completing a large upload can).
        type: int
        default: 30
      endpoint_url:
        description: S3 - the endpoint of an S3-compatible store (MinIO, Ceph RGW...); AWS's by default.
        type: str
      region:
        description: S3 - the bucket's region.
        type: str
      access_key:
        description: S3 - the access key id. Without it, boto3's usual chain (environment, C(~/.aws), instance role).
        type: str
      secret_key:
        description: S3 - the secret access key.
        type: str
      session_token:
        description: S3 - a session token, for temporary credentials.
        type: str
      sse:
        description: S3 - server-side encryption of the objects written.
        type: str
        choices: [AES256, "aws:kms"]
      sse_kms_key_id:
        description: S3 - the KMS key for O(store.sse=aws:kms); the bucket's default key when not given.
        type: str
      ca_bundle:
        description: S3 - CA bundle to check the endpoint's TLS certificate with.
        type: path
      validate_certs:
        description: S3 - check the endpoint's TLS certificate.
        type: bool
        default: true
"""
