"""A non-editable install is complete: the wheel holds every package module that git tracks (a
folder without ``__init__.py`` would be left out by ``find_packages``), the installed package
imports from another folder, and installed into a fresh virtual environment (no dependencies: it
sees this environment's packages) it gives the ``googlenet-det`` command. The result is printed in
the test summary (conftest)."""

import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT, summary_lines, tiny_detector_checkpoint, write_photo

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
    command = _install_in_a_fresh_venv(wheel, tmp_path)
    summary_lines(request.config).append(
        f"wheel check: {wheel.name} holds all {len(tracked)} tracked modules of {', '.join(PACKAGES)}; "
        f"its detector imports Detector and Classifier from another folder; installed, {command}"
    )


def _install_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> str:
    """pip-install ``wheel`` (no dependencies) into a new venv whose path ends with this
    environment's site-packages, then run its ``googlenet-det --help`` and ``infer``."""
    venv = tmp_path / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    # a path line, not a site dir: this environment's packages, but not its editable install of ours
    (Path(purelib) / "test_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)]
    installed = subprocess.run(pip, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    cmd = venv / "bin" / "googlenet-det"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    listing = subprocess.run([str(cmd), "--help"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert listing.returncode == 0 and "  infer " in listing.stdout and "  train-det " in listing.stdout, listing.stderr
    write_photo(tmp_path / "photo.png", 48, 64, (10, 10, 40, 35))
    ckpt = tiny_detector_checkpoint(tmp_path / "det.pth", classes=("a", "b"))
    run = subprocess.run([str(cmd), "infer", "photo.png", "--ckpt", str(ckpt), "--score-thresh", "0", "--out", "o"],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "1 images processed, 0 failed" in run.stdout and (tmp_path / "o" / "photo.jpg").is_file()
    where = subprocess.run([str(py), "-c", "import detector; print(detector.__file__)"], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=120)  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout + where.stderr
    return "googlenet-det --help and googlenet-det infer ran from a fresh venv"
