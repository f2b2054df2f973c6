"""Every message a service gives a person is translatable (DESIGN rule 8).

Read from the source: a message written as a bare string would reach Chinese users in English.
"""

import ast
from pathlib import Path

import pytest

import applications.services

PACKAGE = Path(applications.services.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
TREES = [(path.name, ast.parse(path.read_text(encoding="utf-8"))) for path in MODULES]


def translated(node) -> bool:
    """`_("...")`, `_("... %(x)s") % {...}`, or `message or _("...")` (a caller's message)."""
    if isinstance(node, ast.BoolOp):
        return all(isinstance(v, ast.Name) or translated(v) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        node = node.left
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "_")


def bare_string(node) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(
        node, ast.JoinedStr)


def walk():
    for name, tree in TREES:
        for node in ast.walk(tree):
            yield name, node


def domain_error_messages():
    for module, node in walk():
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id == "DomainError":
            message = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "message"), None)
            yield f"{module}:{node.lineno}", message


def field_messages():
    """Elements of the lists that become `fields`: errors[x] = [...], {...: [...]},
    errors.setdefault(x, [...]), errors.setdefault(x, []).append(...)."""
    for module, node in walk():
        lists = []
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            lists.append(node.value)
        elif isinstance(node, ast.Dict):
            lists.extend(node.values)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "setdefault" and len(node.args) == 2:
                lists.append(node.args[1])
            elif node.func.attr == "append" and isinstance(node.func.value, ast.Call):
                yield f"{module}:{node.lineno}", node.args[0]
        for value in lists:
            if isinstance(value, ast.List):
                for element in value.elts:
                    yield f"{module}:{node.lineno}", element


def test_there_are_messages_to_check():
    assert len(list(domain_error_messages())) >= 10
    assert len(list(field_messages())) >= 20


@pytest.mark.parametrize(("line", "message"), list(domain_error_messages()))
def test_every_domain_error_message_is_translatable(line, message):
    assert message is not None and translated(message), f"applications/services/{line}"


@pytest.mark.parametrize(("line", "message"), list(field_messages()))
def test_no_field_message_is_a_bare_string(line, message):
    assert not bare_string(message), f"applications/services/{line}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_gettext_is_the_real_one(path):
    import importlib

    from django.utils.translation import gettext

    module = importlib.import_module(f"applications.services.{path.stem}")
    if path.stem != "__init__" and hasattr(module, "_"):
        assert module._ is gettext
