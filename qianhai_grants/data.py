"""Reading the project's data files."""

import yaml

# libyaml's parser when PyYAML was built with it (its wheels are): the same safe loader's
# results, several times faster than the pure-Python one (the catalogue: 8 ms against 50).
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def yaml_load(text: str):
    """`yaml.safe_load(text)`, by libyaml where there is one. Raises yaml.YAMLError."""
    return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 (a safe loader)
