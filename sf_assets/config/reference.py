"""Generate the configuration reference (docs/CONFIGURATION.md) from the pydantic models."""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from sf_assets.config.models import PipelineConfig

_HEADER = """# Configuration reference

Generated from `sf_assets/config/models.py` by `sf-assets config doc`; do not edit by hand.
One YAML file (default `config/pipeline.yaml`, or `--config` / `$SF_ASSETS_CONFIG`).
`${VAR}` and `${VAR:-default}` are replaced from the environment. Relative paths are relative to
the configuration file. Secrets are never written in the file: `*_env` keys name the environment
variables that hold them. Unknown keys are errors.
"""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is typing.Literal:
        return " or ".join(repr(a) for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{typing.get_origin(annotation).__name__}[{args}]"
    return getattr(annotation, "__name__", str(annotation)).replace("NoneType", "null")


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        return "(section)" if isinstance(value, BaseModel) else f"`{value}`"
    if field.default is PydanticUndefined:
        return "**required**"
    return f"`{field.default}`"


def render_reference() -> str:
    """Markdown with one table per configuration section."""
    out = [_HEADER]
    queue: list[tuple[str, type[BaseModel]]] = [("(top level)", PipelineConfig)]
    seen: set[type[BaseModel]] = set()
    while queue:
        prefix, model = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
        out += [
            f"\n## `{prefix}` — {model.__name__}\n",
            doc,
            "",
            "| key | type | default | description |",
            "|---|---|---|---|",
        ]
        for name, field in model.model_fields.items():
            if field.exclude:
                continue
            sections = _models_in(field.annotation)
            section_doc = " / ".join((m.__doc__ or "").strip().splitlines()[0] for m in sections)
            description = (field.description or section_doc).replace("|", "\\|")
            out.append(f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {description} |")
            key = name if prefix == "(top level)" else f"{prefix}.{name}"
            queue += [(f"{key}[]" if typing.get_origin(field.annotation) is list else key, m) for m in sections]
    return "\n".join(out) + "\n"
