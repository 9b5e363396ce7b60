"""The Ansible inventory and ansible.cfg through which the collection reaches the test bed."""
import yaml

from . import layout, services


def _tools():
    """etcdutl where there is one (3.5+), else etcdctl (3.4)."""
    etcdutl = services.restore_etcdutl()
    if etcdutl.exists():
        return {"etcd_etcdutl": str(etcdutl)}
    return {"etcd_etcdctl": str(services.etcd_bin_dir() / "etcdctl")}


def _host(member):
    return {
        "ansible_host": member.address,
        "etcd_member_name": member.name,
        "etcd_client_url": member.client_url,
        "etcd_peer_url": member.peer_url,
        "etcd_data_dir": str(member.data_dir),
        "etcd_config_file": str(member.config_file),
        "etcd_log_file": str(member.log_file),
        "etcd_service_name": member.service,
        "etcd_service_manager": "supervisor",
    }


def inventory(bed):
    tls = {"etcd_cacert": str(bed.cacert), "etcd_cert": str(bed.client_cert), "etcd_key": str(bed.client_key),
           **_tools()}
    hosts = {}
    for member in bed.members:
        hosts[member.name] = {
            **_host(member),
            "etcd_backup_dir": str(member.backup_dir),
            # Where the kubelet stand-in looks when a test runs the member as a static pod.
            "etcd_manifest_dir": str(member.manifest_dir),
            "etcd_held_manifest_dir": str(member.held_manifest_dir),
            "etcd_pod_log_dir": str(member.pod_log_dir),
            # The kube-apiserver stand-in, for the restore's Kubernetes mode.
            "restore_kube_apiserver_manager": "supervisor",
            "restore_kube_apiserver_name": member.kube_apiserver_service,
            "restore_kube_apiserver_address": member.address,
        }
    return {"all": {
        "vars": {
            "ansible_user": "root",
            "ansible_port": layout.SSH_PORT,
            "ansible_ssh_private_key_file": str(bed.ssh_key),
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={bed.known_hosts} -o StrictHostKeyChecking=yes",
            # Every host is this machine, so the modules run with the project virtualenv.
            "ansible_python_interpreter": str(layout.VENV_PYTHON),
            "etcd_supervisor_conf": str(bed.supervisor_conf),
            # The drills' private dir on the hosts and their reports on the controller, inside the bed.
            "drill_work_dir": str(bed.drill_work_dir),
            "drill_report_dir": str(bed.report_dir),
            "drill_cache_dir": str(bed.root / "drill-cache"),
            # The backup server's SFTP store, as a backup_stores entry (tests and the demo pass it on).
            "testbed_sftp_store": bed.sftp_store,
            # The S3-compatible store; its key is made when the bed comes up, after this file is written.
            "testbed_s3_store": {
                "url": f"s3://{layout.S3_BUCKET}/cluster-a",
                "endpoint_url": f"http://{layout.BACKUP_SERVER_ADDRESS}:{layout.S3_PORT}", "region": "us-east-1",
                "access_key": f"{{{{ (lookup('ansible.builtin.file', '{bed.s3_credentials}') | from_json).access_key }}}}",
                "secret_key": f"{{{{ (lookup('ansible.builtin.file', '{bed.s3_credentials}') | from_json).secret_key }}}}",
            },
        },
        "children": {
            "etcd": {"vars": tls, "hosts": hosts},
            # The drill cluster's hosts (etcdops.dr.drill, drill_mode=cluster).
            "etcd_drill": {"vars": tls, "hosts": {m.name: _host(m) for m in bed.drill_members}},
            # kube-apiserver hosts apart from the etcd hosts (external etcd): restore_kube_apiserver_group=kube_apiservers.
            "kube_apiservers": {"hosts": {host.name: {
                "ansible_host": host.address,
                "restore_kube_apiserver_manager": "supervisor",
                "restore_kube_apiserver_name": host.kube_apiserver_service,
                "restore_kube_apiserver_address": host.address,
            } for host in bed.apiserver_hosts}},
            "backup_servers": {"hosts": {"backup1": {
                "ansible_host": layout.BACKUP_SERVER_ADDRESS,
                "backup_server_dir": str(bed.backup_server_dir),
            }}},
        },
    }}


def write(bed):
    bed.inventory.write_text(yaml.safe_dump(inventory(bed), sort_keys=False))
    bed.ansible_cfg.write_text(
        "[defaults]\n"
        f"inventory = {bed.inventory}\n"
        f"collections_path = {bed.collections_path}\n"
        "forks = 10\n"
        "timeout = 30\n"
        "interpreter_python = auto_silent\n"
        # Ansible's default (0.001 s) polls its workers a thousand times a second, which its docs say costs CPU for
        # UI responsiveness; the test beds are CPU-bound (measured: ~1.5 of 37 CPU-seconds per restore saved).
        "internal_poll_interval = 0.02\n"
        "[ssh_connection]\n"
        "pipelining = True\n"
        # Without Ansible's default -C, as docs/backup.md advises: zlib costs CPU on both ends and gains nothing here.
        "ssh_args = -o ControlMaster=auto -o ControlPersist=60s\n"
        # The bed's own SSH control sockets: a bed in another network namespace (or the other bed of a second
        # checkout) must never reuse this one's connections, whose names only say host, port and user.
        f"control_path_dir = {bed.root / 'ssh-control'}\n")
