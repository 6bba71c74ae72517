"""``pruning-lessons lab``: the course's settings overlay (issue #25).

What the launcher writes and the command it runs are checked here, without starting a server;
``tests/test_browser.py`` opens the course through the same overlay in a real browser and
looks for the news pop-up and the nbgrader menu.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pruning_lessons.__main__ import build_parser
from pruning_lessons.teaching import lab

ROOT = Path(__file__).resolve().parents[1]
NEWS = "@jupyterlab/apputils-extension:notification"


def _overrides(settings: Path) -> dict:
    merged = {}
    for path in sorted((settings / "overrides.d").glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def test_the_overlay_turns_the_news_off_and_leaves_the_users_settings_alone(tmp_path):
    settings = lab.write_overlay(tmp_path)
    assert settings.is_relative_to(tmp_path)
    news = _overrides(settings)[NEWS]
    assert news == {"fetchNews": "false", "checkForUpdates": False}


def test_a_student_launch_leaves_out_installed_teaching_tools(tmp_path, monkeypatch):
    monkeypatch.setattr(lab, "_teaching_lab_extensions", lambda: ["@jupyter/nbgrader"])
    monkeypatch.setattr(lab, "_teaching_server_extensions", lambda: ["nbgrader.formgrader"])
    settings = lab.write_overlay(tmp_path / "student")
    page = json.loads((settings / "page_config.json").read_text(encoding="utf-8"))
    assert page["disabledExtensions"]["@jupyter/nbgrader"] is True
    command = lab.lab_command(settings, ROOT / "notebooks", False, ["--port=9"])
    assert command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert "--ServerApp.jpserver_extensions=nbgrader.formgrader=False" in command
    assert f"--LabApp.app_settings_dir={settings}" in command
    assert command[-1] == "--port=9"

    teacher = lab.write_overlay(tmp_path / "teacher", teach=True)
    assert not (teacher / "page_config.json").exists()
    assert not [a for a in lab.lab_command(teacher, tmp_path, True, []) if "nbgrader" in a]


def test_an_existing_page_config_is_kept(tmp_path, monkeypatch):
    own = tmp_path / "env" / "settings"
    own.mkdir(parents=True)
    (own / "page_config.json").write_text('{"disabledExtensions": ["other"]}', encoding="utf-8")
    monkeypatch.setattr(lab, "_environment_settings", lambda: own)
    monkeypatch.setattr(lab, "_teaching_lab_extensions", lambda: ["@jupyter/nbgrader"])
    settings = lab.write_overlay(tmp_path / "overlay")
    page = json.loads((settings / "page_config.json").read_text(encoding="utf-8"))
    assert page["disabledExtensions"] == {"other": True, "@jupyter/nbgrader": True}
    assert json.loads((own / "page_config.json").read_text()) == {"disabledExtensions": ["other"]}


def test_the_teaching_tools_found_here_are_nbgraders_when_it_is_installed():
    pytest.importorskip("nbgrader")
    assert "@jupyter/nbgrader" in lab._teaching_lab_extensions()
    assert any(n.startswith("nbgrader.") for n in lab._teaching_server_extensions())


def test_the_course_folder_is_the_notebooks_folder():
    assert lab.course_folder() == ROOT / "notebooks"


def test_a_missing_folder_is_refused_before_anything_starts(tmp_path):
    with pytest.raises(ValueError, match="folder must be an existing folder"):
        lab.run(tmp_path / "nowhere")


def test_the_command_line_passes_jupyterlabs_own_options_through(monkeypatch):
    seen = {}
    monkeypatch.setattr(lab, "run", lambda **kw: seen.update(kw) or 0)
    from pruning_lessons.__main__ import main

    assert main(["lab", "--teach", "--port=8899", "--no-browser"]) == 0
    assert seen == {"teach": True, "extra": ["--port=8899", "--no-browser"]}
    assert "lab" in build_parser().format_help()
