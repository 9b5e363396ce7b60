"""The AWX objects as code (docs/awx/configure_awx.yml) and the project's playbooks (docs/awx/project), checked against
awx.awx as PyPI's `ansible` package ships it (bootstrap unpacks it into .venv/awx-collections): their syntax, every
awx.awx task's arguments against the module's own argument spec, and what they hand the collection - the surveys'
and the credential types' variables - against the roles' argument specs."""
import json
import os
import subprocess

import pytest
import yaml

from testbed import layout

AWX_DIR = layout.REPO / "docs" / "awx"
AWX_COLLECTIONS = layout.REPO / ".venv" / "awx-collections"
BIN = layout.VENV_PYTHON.parent


class Loader(yaml.SafeLoader):
    """YAML with Ansible's !unsafe tag (the credential types' injector templates, which AWX renders, not Ansible)."""


Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def env():
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH="%s:%s" % (layout.link_checkout(), AWX_COLLECTIONS))


def tasks():
    plays = yaml.load((AWX_DIR / "configure_awx.yml").read_text(), Loader=Loader)   # noqa: S506 (a SafeLoader)
    return [task for play in plays for task in play["tasks"]]


def awx_tasks():
    return [(name, task[name], task) for task in tasks() for name in task if name.startswith("awx.awx.")]


def module_docs(names):
    done = subprocess.run([str(BIN / "ansible-doc"), "-j", *sorted(set(names))], capture_output=True, text=True,
                          env=env(), check=True)
    return {name: value["doc"] for name, value in json.loads(done.stdout).items()}


def role_options(role):
    specs = yaml.safe_load((layout.REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return set(specs["argument_specs"]["main"]["options"])


@pytest.mark.parametrize("playbook", ["configure_awx.yml"] + sorted(
    "project/" + name for name in os.listdir(AWX_DIR / "project")))
def test_the_example_playbooks_pass_their_syntax_check_with_awx_awx_installed(playbook):
    assert (AWX_COLLECTIONS / "ansible_collections" / "awx" / "awx" / "MANIFEST.json").is_file(), \
        "awx.awx is missing: run scripts/bootstrap.sh"
    done = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(AWX_DIR / playbook)],
                          capture_output=True, text=True, env=env(), check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_awx_task_uses_only_its_modules_options_and_their_choices():
    found = awx_tasks()
    docs = module_docs(name for name, dummy, dummy in found)
    assert {"awx.awx.execution_environment", "awx.awx.project", "awx.awx.credential_type", "awx.awx.job_template",
            "awx.awx.schedule"} <= set(docs)
    for name, args, dummy in found:
        options = docs[name]["options"]
        known = {alias for option, spec in options.items() for alias in [option] + (spec.get("aliases") or [])}
        assert set(args) <= known, (name, set(args) - known)
        for option, value in args.items():
            choices = options.get(option, {}).get("choices")
            if choices and isinstance(value, str) and "{{" not in value:
                assert value in choices, (name, option, value, choices)
        missing = {option for option, spec in options.items() if spec.get("required")} - set(args)
        assert not missing, (name, missing)


def test_job_templates_hand_the_roles_only_variables_they_take():
    templates = next(args for name, args, task in awx_tasks() if name == "awx.awx.job_template")
    assert templates["forks"] == "{{ etcdops_awx_forks }}" and templates["become_enabled"] is True
    items = next(task["loop"] for name, args, task in awx_tasks() if name == "awx.awx.job_template")
    roles = {"health.yml": None, "backup.yml": "backup", "cold_backup.yml": "cold_backup", "restore.yml": "restore",
             "restore_rollback.yml": "restore", "drill.yml": "drill", "replace_member.yml": "replace",
             "recover_quorum.yml": "recover_quorum"}
    assert sorted(item["playbook"] for item in items) == sorted(roles)
    for item in items:
        wrapper = yaml.safe_load((AWX_DIR / "project" / item["playbook"]).read_text())
        assert wrapper == [{"name": wrapper[0]["name"],
                            "ansible.builtin.import_playbook": "etcdops.dr." + item["playbook"][:-len(".yml")]}]
        for question in item.get("survey", []):
            assert question["variable"] in role_options(roles[item["playbook"]]), (item["name"], question)
            if question["type"] == "multiplechoice":
                assert question["default"] in question["choices"]


def test_credential_types_inject_the_variables_the_collection_reads():
    injected = {}
    for name, args, dummy in awx_tasks():
        if name == "awx.awx.credential_type":
            fields = {field["id"] for field in args["inputs"]["fields"]}
            assert set(args["inputs"]["required"]) <= fields
            for variable, template in args["injectors"]["extra_vars"].items():
                assert template.startswith("{{ ") and template[3:-3] in fields, (variable, template)
                injected[variable] = next(f for f in args["inputs"]["fields"] if f["id"] == template[3:-3])
    common = (layout.REPO / "roles" / "common" / "defaults" / "main.yml").read_text()
    for variable in ("etcd_cacert_pem", "etcd_cert_pem", "etcd_key_pem"):
        assert "%s | default(none)" % variable in common
    assert "restore_decryption_key" in role_options("restore") and "drill_decryption_key" in role_options("drill")
    # Keys are secret fields: AWX never shows them back.
    assert all(injected[v].get("secret") for v in ("etcd_key_pem", "restore_decryption_key", "etcdops_s3_secret_key"))
