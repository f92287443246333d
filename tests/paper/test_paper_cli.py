"""`ssrl-paper` beside `ssrl`: installed with the project, its own commands, none of them left in `ssrl`."""

from __future__ import annotations

import subprocess
import sys

import tomllib

from app_support import ROOT


def test_the_paper_package_is_installed_with_its_own_console_script() -> None:
    from setuptools import find_packages

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["ssrl-paper"] == "paper.cli:main"
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    found = find_packages(where=str(ROOT), include=include)
    assert "paper" in found and "ssrl_core" in found and "ssrl_core.reproduce" not in found


def test_python_m_paper_lists_the_pipeline_commands() -> None:
    done = subprocess.run([sys.executable, "-m", "paper", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    for command in ("reproduce", "class-bias", "base-data", "base-encoder"):
        assert command in done.stdout


def test_the_product_cli_keeps_its_own_commands_only() -> None:
    from paper.cli import build_parser
    from ssrl_core.cli import build_parser as product_parser

    product = product_parser()._subparsers._group_actions[0].choices
    assert "class-properties" in product and "embed" in product and "cifar10" not in product  # data download cifar10
    assert not {"reproduce", "reproduce-cifar", "class-bias"} & set(product)
    paper = build_parser()._subparsers._group_actions[0].choices
    assert paper["reproduce-cifar"] is paper["class-bias"]  # the old name still works, under ssrl-paper
    args = build_parser().parse_args(["class-bias", "--report-only", "--ship-base"])
    assert args.report_only and args.ship_base and args.handler.__name__ == "run_class_bias"
