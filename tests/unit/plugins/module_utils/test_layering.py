"""module_utils has no import cycle between its packages: each package imports only packages below it."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[4] / "plugins" / "module_utils"
PREFIX = "ansible_collections.etcdops.dr.plugins.module_utils"


def imported_packages():
    """{package: {packages it imports}}, a package being a directory of module_utils or one of its top-level files."""
    graph = {}
    for path in ROOT.rglob("*.py"):
        package = path.relative_to(ROOT).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
                rest = node.module[len(PREFIX):].strip(".")
                for name in ([rest.split(".")[0]] if rest else [alias.name for alias in node.names]):
                    if name != package:
                        graph.setdefault(package, set()).add(name)
    return graph


def test_no_package_imports_one_that_imports_it_back():
    graph = imported_packages()

    def reaches(start, goal, seen=()):
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen + (nxt,)))
                   for nxt in graph.get(start, ()))

    cycles = sorted((package, other) for package, others in graph.items() for other in others
                    if reaches(other, package))
    assert cycles == [], cycles
    # What the layering is meant to be: the host below etcd, and the services and the restore above it.
    assert "_etcd" not in graph["_host"] and "_service" not in graph["_host"]
    assert "_restore" not in graph["_service"] and "_restore" not in graph["_etcd"]
