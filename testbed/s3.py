"""The backup server's S3-compatible store: moto's server (PyPI `moto[server]`) on the backup address, with request
signatures checked (INITIAL_NO_AUTH_ACTION_COUNT: only the first few requests, which create the store's user and
key, go unsigned), and the bucket the store uses."""
import json
import socket
import time

from . import layout

# The unsigned requests moto allows: create the user, give it S3 rights, create its access key.
UNSIGNED_REQUESTS = 3


def command(bed):
    return (f"/usr/bin/env INITIAL_NO_AUTH_ACTION_COUNT={UNSIGNED_REQUESTS} {layout.VENV_PYTHON.parent / 'moto_server'}"
            f" -H {layout.BACKUP_SERVER_ADDRESS} -p {layout.S3_PORT}")


def _client(service, credentials=None):
    import boto3  # pylint: disable=import-outside-toplevel
    credentials = credentials or {"access_key": "unsigned", "secret_key": "unsigned"}
    return boto3.session.Session().client(
        service, endpoint_url=f"http://{layout.BACKUP_SERVER_ADDRESS}:{layout.S3_PORT}", region_name="us-east-1",
        aws_access_key_id=credentials["access_key"], aws_secret_access_key=credentials["secret_key"])


def provision(bed, timeout=30):
    """Once the server answers: the store's user and key, kept in the bed's s3-credentials.json with the pid of the
    server that knows them (a server started afresh knows no key and gets a new one: only its first requests may go
    unsigned, so none is spent on a stale key), and its bucket."""
    import botocore.exceptions  # pylint: disable=import-outside-toplevel
    pid = _server_pid(bed, timeout)
    path = bed.s3_credentials
    known = json.loads(path.read_text()) if path.exists() else {}
    if known.get("server_pid") != pid:
        try:
            known = _new_key(pid, timeout)
        except botocore.exceptions.ClientError:
            # Its unsigned requests were spent (a key file from before the pid was kept): start it afresh.
            from . import services  # pylint: disable=import-outside-toplevel
            services.supervisorctl(bed, "stop", "s3")
            services.supervisorctl(bed, "start", "s3")
            known = _new_key(_server_pid(bed, timeout), timeout)
        path.write_text(json.dumps(known))
        path.chmod(0o600)
    s3 = _client("s3", known)
    try:
        s3.head_bucket(Bucket=layout.S3_BUCKET)
    except botocore.exceptions.ClientError:
        s3.create_bucket(Bucket=layout.S3_BUCKET)


def _new_key(pid, timeout):
    _wait_for_port(timeout)
    iam = _client("iam")
    iam.create_user(UserName="etcdops-backup")
    iam.put_user_policy(UserName="etcdops-backup", PolicyName="backups", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="etcdops-backup")["AccessKey"]
    return {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"], "server_pid": pid}


def _server_pid(bed, timeout):
    from . import services  # pylint: disable=import-outside-toplevel
    deadline = time.monotonic() + timeout
    while True:
        status = services.supervisorctl(bed, "status", "s3", check=False).stdout.split()
        if len(status) >= 4 and status[1] == "RUNNING":
            return int(status[3].rstrip(","))
        if time.monotonic() > deadline:
            raise RuntimeError(f"the S3 store did not start; see {bed.root / 's3.log'}")
        time.sleep(0.2)


def _wait_for_port(timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((layout.BACKUP_SERVER_ADDRESS, layout.S3_PORT), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("the S3 store does not answer on its port") from None
            time.sleep(0.1)
