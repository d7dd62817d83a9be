"""Typed configuration: dataclasses loaded from YAML with a strict merge and dotted overrides.

Every tool defines its config as a tree of dataclasses with defaults, then calls
:func:`load_config`. Rules:

- YAML is read with ``yaml.safe_load`` only.
- Merging is strict: a key the dataclass does not declare, or a value of the wrong type, raises
  :class:`ConfigError` with a one-line message naming the dotted key and the file (or
  ``--opts``).
- ``--opts key.sub=value`` overrides are parsed as YAML scalars/lists (``lr=0.1``,
  ``steps=[3,6]``, ``weights=null``) and checked like file values.
- Ranges live in the types: a field annotated :data:`PositiveInt`, :data:`NonNegInt`,
  :data:`PositiveFloat`, :data:`NonNegFloat` or :data:`Probability` (``typing.Annotated`` with a
  :class:`Range`) is checked on every merge, so a value out of range is the same one-line
  :class:`ConfigError` naming the dotted key, for every tool, before any work is done; a known
  name is a ``Literal``.
- :func:`config_to_dict` gives plain data to save next to a run (:func:`save_config`) and inside
  every checkpoint.
"""

from __future__ import annotations

import dataclasses
import math
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from .files import write_text

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override that does not fit the config's dataclasses (one-line message)."""


@dataclass(frozen=True)
class Range:
    """The values a number field accepts: at least ``low`` (above it with ``open_low``), at most
    ``high``, and finite; ``text`` says so in the error."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    text: str = ""

    def accepts(self, v: float) -> bool:
        if not math.isfinite(v):
            return False
        if self.low is not None and (v <= self.low if self.open_low else v < self.low):
            return False
        return self.high is None or v <= self.high


PositiveInt = Annotated[int, Range(1, text="at least 1")]
NonNegInt = Annotated[int, Range(0, text="at least 0")]
PositiveFloat = Annotated[float, Range(0, open_low=True, text="a finite number above 0")]
NonNegFloat = Annotated[float, Range(0, text="a finite number at least 0")]
Probability = Annotated[float, Range(0, 1, text="between 0 and 1")]
Percent = Annotated[int, Range(0, 100, text="between 0 and 100")]


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Annotated:
        return _type_name(get_args(tp)[0])
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str, source: str) -> Any:
    """Check ``value`` against the annotation ``tp``; return it converted (int -> float, list ->
    tuple) or raise ConfigError naming ``key`` and ``source``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Annotated:
        base, *marks = get_args(tp)
        value = _coerce(value, base, key, source)
        for m in marks:
            if isinstance(m, Range) and not m.accepts(value):
                raise ConfigError(f"{source}: '{key}' must be {m.text}, got {value!r}")
        return value
    if origin is Union or origin is types.UnionType:
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        others = [a for a in args if a is not type(None)]
        if len(others) == 1:  # Optional[X]: X's own message (a range, a type)
            return _coerce(value, others[0], key, source)
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, source)
            except ConfigError:
                pass
        raise ConfigError(f"{source}: '{key}' expects {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{source}: '{key}' must be one of {list(get_args(tp))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{key}' is a section and expects a mapping, got {value!r}")
        return _merge(tp(), value, source, key + ".")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: '{key}' expects a list, got {value!r}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{source}: '{key}' expects {len(args)} items, got {len(value)}")
            items = [_coerce(v, a, f"{key}[{i}]", source) for i, (v, a) in enumerate(zip(value, args, strict=True))]
        else:
            item_tp = args[0] if args else Any
            items = [_coerce(v, item_tp, f"{key}[{i}]", source) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{key}' expects a mapping, got {value!r}")
        kt, vt = get_args(tp) or (Any, Any)
        return {_coerce(k, kt, key, source): _coerce(v, vt, f"{key}.{k}", source) for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # PyYAML (YAML 1.1) reads 1e-3 as a string
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{source}: '{key}' expects float, got {value!r}") from None
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"{source}: '{key}' expects bool, got {value!r}")
    if tp in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{source}: '{key}' expects {tp.__name__}, got {value!r}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{source}: '{key}' expects {tp.__name__}, got {value!r}")
    return value


def _merge(cfg: T, data: dict, source: str, prefix: str = "") -> T:
    """A copy of dataclass ``cfg`` with ``data`` merged in, strictly."""
    hints = get_type_hints(type(cfg), include_extras=True)
    names = {f.name for f in dataclasses.fields(cfg)}
    updates = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if k not in names:
            raise ConfigError(f"{source}: unknown key '{key}' (known: {', '.join(sorted(names))})")
        current = getattr(cfg, k)
        if dataclasses.is_dataclass(current) and isinstance(v, dict):
            updates[k] = _merge(current, v, source, key + ".")
        else:
            updates[k] = _coerce(v, hints[k], key, source)
    return dataclasses.replace(cfg, **updates)


def read_yaml(path: str | Path) -> dict:
    """``yaml.safe_load`` a mapping from ``path``; one-line ConfigError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where}: {getattr(e, 'problem', e)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def parse_opts(opts: list[str] | None) -> dict:
    """``["a.b=1", "c=[1,2]"]`` -> ``{"a": {"b": 1}, "c": [1, 2]}`` (values parsed as YAML)."""
    tree: dict = {}
    for opt in opts or []:
        key, sep, raw = opt.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--opts: expected key=value, got {opt!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = tree
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--opts: '{key}' conflicts with another override")
        node[parts[-1]] = value
    return tree


def load_config(cls: type[T], path: str | Path | None = None, opts: list[str] | None = None) -> T:
    """Defaults of dataclass ``cls``, then the YAML file at ``path``, then ``--opts`` overrides."""
    cfg = cls()
    if path is not None:
        cfg = _merge(cfg, read_yaml(path), str(path))
    if opts:
        cfg = _merge(cfg, parse_opts(opts), "--opts")
    return cfg


def merge_config(cfg: T, data: dict, source: str) -> T:
    """A copy of ``cfg`` with the nested mapping ``data`` merged in (the same checks as a YAML file)."""
    return _merge(cfg, data, source)


def apply_opts(cfg: T, opts: list[str] | None, source: str = "--opts") -> T:
    """``cfg`` with dotted ``key=value`` overrides merged in (the same checks as a YAML file)."""
    return _merge(cfg, parse_opts(opts), source) if opts else cfg


def config_from_dict(cls: type[T], data: dict, source: str = "checkpoint") -> T:
    """Rebuild a config saved with :func:`config_to_dict` (e.g. from a checkpoint)."""
    return _merge(cls(), data, source)


def config_to_dict(cfg: Any) -> dict:
    """Plain ``dict`` of builtins (tuples become lists), safe for YAML and ``weights_only``."""

    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(cfg))


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write the resolved config as YAML (atomically) and return the path."""
    return write_text(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


__all__ = [
    "ConfigError",
    "NonNegFloat",
    "NonNegInt",
    "Percent",
    "PositiveFloat",
    "PositiveInt",
    "Probability",
    "Range",
    "apply_opts",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "merge_config",
    "parse_opts",
    "read_yaml",
    "save_config",
]
