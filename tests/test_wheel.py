"""A non-editable install is complete: the wheel holds every package module that git tracks (a
folder without ``__init__.py`` would be left out by ``find_packages``), and the installed
package imports from another folder. The result is printed in the test summary (conftest)."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT, summary_lines

PACKAGES = ("backbones", "detector")


def _tracked_modules() -> set[str]:
    out = subprocess.run(["git", "ls-files", *PACKAGES], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        pytest.skip("not a git checkout")
    return {f for f in out.stdout.split() if f.endswith(".py")}


@pytest.mark.slow
def test_wheel_holds_every_tracked_module_and_imports_elsewhere(tmp_path, request):
    tracked = _tracked_modules()
    src = tmp_path / "src"  # a copy: setuptools' build/ folder in the checkout could hold stale files
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "setup.py", src / "setup.py")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(src)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(tmp_path.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    in_wheel = {n for n in names if n.endswith(".py") and n.split("/")[0] in PACKAGES}
    assert in_wheel == tracked, f"missing {sorted(tracked - in_wheel)[:5]}, extra {sorted(in_wheel - tracked)[:5]}"
    # the installed copy (not this checkout) imports the API from another folder
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = "import detector, detector.rcnn.model; from detector import Detector, Classifier; print(detector.__file__)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert Path(run.stdout.strip()).is_relative_to(site)
    summary_lines(request.config).append(
        f"wheel check: {wheel.name} holds all {len(tracked)} tracked modules of {', '.join(PACKAGES)}; "
        "its detector imports Detector and Classifier from another folder"
    )
