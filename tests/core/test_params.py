"""The one parameter type (`ssrl_core.params.Param`): rules written once, three wordings, defaults once."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from ssrl_core.methods import METHODS, default_params
from ssrl_core.params import Param, from_signature
from ssrl_core.train.checks import validate
from ssrl_core.train.config import RunConfig


def test_method_defaults_are_the_init_defaults() -> None:
    for name, cls in METHODS.items():
        sig = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
               if p.default is not inspect.Parameter.empty}
        assert default_params(name) == sig, name
        assert list(METHODS[name].PARAMS) == list(sig), name  # declared in the signature's order


def test_from_signature_refuses_a_declaration_that_does_not_match() -> None:
    def init(self, backbone, feat_dim, temperature: float = 0.5, out_dim: int = 128) -> None: ...

    with pytest.raises(TypeError, match="do not match"):
        from_signature(init, temperature=Param("float", low=0.01, high=10.0))
    with pytest.raises(TypeError, match="do not match"):
        from_signature(init, temperature=Param("float"), out_dim=Param("int"), extra=Param("int"))
    with pytest.raises(TypeError, match="out_dim must be between 256 and 4096"):
        from_signature(init, temperature=Param("float"), out_dim=Param("int", low=256, high=4096))
    got = from_signature(init, temperature=Param("float", low=0.01, high=10.0), out_dim=Param("int", low=2))
    assert got["temperature"].default == 0.5 and got["out_dim"].default == 128


def test_one_rule_three_wordings() -> None:
    p = Param("float", 0.5, low=0.0, high=1.0)
    assert p.problem("x", 2) == "'x' must be between 0 and 1, got 2"
    assert p.problem("x", 2, "method") == "x must be between 0.0 and 1.0, got 2.0"
    assert p.problem("x", 2, "config") == "'x' must be a number from 0 to 1; got 2"
    assert p.problem("x", "a", "method") == "x must be a number, got 'a'"
    assert p.problem("x", float("inf"), "method") == "x must be a finite number, got inf"
    whole = Param("int", 4, low=1, high=10_000)
    assert whole.check("n", 4.0) == (4, None)  # a recipe or a method converts 4.0 to 4
    assert whole.check("n", 4.0, "method") == (4, None)
    assert whole.problem("n", 4.0, "config") == "'n' must be a whole number from 1 to 10,000; got 4.0"
    assert Param("bool").problem("b", 1, "config") == "'b' must be true or false; got 1"
    assert Param("choice", choices=("a", "b")).problem("c", "z", "config") == "'c' must be one of a, b; got 'z'"


def test_ranges_refuse_nan_and_huge_numbers_do_not_crash() -> None:
    r = Param("range", [0.1, 1.0], low=0.0, high=1.0)
    assert r.problem("scale", [float("nan"), 0.5]) == "'scale' must stay between 0 and 1, got [nan, 0.5]"
    assert r.stored((0.2, 1)) == [0.2, 1.0]
    assert Param("int", 2, low=1, high=8).problem("n", 10**30, "method") == \
        f"n must be between 1 and 8, got {10**30}"
    cfg = dataclasses.replace(RunConfig(), momentum=10**400)  # no float holds it: still a plain problem
    assert validate(cfg) == [f"'momentum' must be a number from 0 to 1; got {10**400!r}"]
