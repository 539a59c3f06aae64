"""`${VAR}` / `${VAR:-default}` interpolation."""

import pytest

from sf_assets.config.interpolate import InterpolationError, interpolate


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("${A}", "1"),
        ("x-${A}-${B:-two}", "x-1-two"),
        ("${B:-}", ""),
        ("$A {A} $${A}", "$A {A} $1"),
        ({"k": ["${A}", 3, None]}, {"k": ["1", 3, None]}),
    ],
)
def test_interpolate(value, expected):
    assert interpolate(value, {"A": "1"}) == expected


def test_missing_variable_names_path():
    with pytest.raises(InterpolationError) as info:
        interpolate({"paths": {"work_dir": "${MISSING}"}}, {})
    assert info.value.path == "paths.work_dir" and info.value.variable == "MISSING"
