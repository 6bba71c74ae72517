"""``pruning-lessons lab``: JupyterLab on the course, with the course's own quiet settings.

JupyterLab asks every new user whether to fetch the official Jupyter news, in a pop-up that
covers the notebook, and an installed nbgrader adds its menu and panels, which a student does
not need. This launcher starts ``python -m jupyterlab`` on the course's ``notebooks/`` folder
with a settings *overlay*: a temporary application-settings folder (JupyterLab's
``overrides.json`` and ``page_config.json``) built from the environment's own, plus the
course's changes, and removed when JupyterLab stops. The user's own settings
(``~/.jupyter/lab/user-settings``) are read as usual and never written by it.

The course's changes: news and update checks off, and, unless ``--teach`` is given, the
grading tools' lab and server extensions left out (an nbgrader installed for teaching stays
installed; a student install has none).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: JupyterLab settings the course sets (plugin id -> settings), written to ``overrides.json``.
OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
#: Distributions whose extensions are for teachers (their names start with these).
TEACHING_TOOLS = ("nbgrader", "@jupyter/nbgrader")


def course_folder() -> Path:
    """The course's ``notebooks/`` folder next to the package, else the current folder."""
    folder = Path(__file__).resolve().parents[2] / "notebooks"
    return folder if (folder / "00_start_here.ipynb").is_file() else Path.cwd()


def _environment_settings() -> Path:
    """The application-settings folder JupyterLab would use in this environment."""
    from jupyterlab.commands import get_app_dir

    return Path(get_app_dir()) / "settings"


def _teaching_server_extensions() -> list[str]:
    """Enabled Jupyter server extensions that belong to the teaching tools."""
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.extension.config import ExtensionConfigManager

    enabled = ExtensionConfigManager(read_config_path=jupyter_config_path())
    names = enabled.get_jpserver_extensions()
    return sorted(n for n, on in names.items() if on and n.startswith(TEACHING_TOOLS))


def _teaching_lab_extensions() -> list[str]:
    """Installed JupyterLab (federated) extensions that belong to the teaching tools."""
    from jupyter_core.paths import jupyter_path
    from jupyterlab_server.config import get_federated_extensions

    found = get_federated_extensions(jupyter_path("labextensions"))
    return sorted(n for n in found if n.startswith(TEACHING_TOOLS))


def write_overlay(folder: Path, teach: bool = False) -> Path:
    """Write the settings overlay into ``folder``; return its application-settings folder."""
    settings = folder / "lab" / "settings"
    own = _environment_settings()
    if own.is_dir():
        shutil.copytree(own, settings)
    settings.mkdir(parents=True, exist_ok=True)
    static = own.parent / "static"
    if static.is_dir():  # JupyterLab reads its built app's metadata next to the settings
        (settings.parent / "static").symlink_to(static, target_is_directory=True)
    overrides = settings / "overrides.d"
    overrides.mkdir(exist_ok=True)
    text = json.dumps(OVERRIDES, indent=2) + "\n"
    (overrides / "zz-pruning-lessons.json").write_text(text, encoding="utf-8")
    if not teach:
        page = settings / "page_config.json"
        config = json.loads(page.read_text(encoding="utf-8")) if page.is_file() else {}
        disabled = config.get("disabledExtensions", {})
        if isinstance(disabled, list):
            disabled = dict.fromkeys(disabled, True)
        disabled.update(dict.fromkeys(_teaching_lab_extensions(), True))
        config["disabledExtensions"] = disabled
        page.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return settings


def lab_command(settings: Path, folder: Path, teach: bool, extra: list[str]) -> list[str]:
    """The ``python -m jupyterlab`` command line for the course."""
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={folder}",
        f"--LabApp.app_settings_dir={settings}",
        "--LabApp.news_url=None",
    ]
    if not teach:
        command += [
            f"--ServerApp.jpserver_extensions={name}=False"
            for name in _teaching_server_extensions()
        ]
    return command + list(extra)


def run(folder: Path | None = None, teach: bool = False, extra: list[str] | None = None) -> int:
    """Start JupyterLab on ``folder`` (default: the course) with the overlay; its exit code."""
    folder = course_folder() if folder is None else folder
    if not folder.is_dir():
        raise ValueError(f"folder must be an existing folder, got {str(folder)!r}")
    with tempfile.TemporaryDirectory(prefix="pruning-lessons-lab-") as overlay:
        settings = write_overlay(Path(overlay), teach=teach)
        command = lab_command(settings, folder, teach, extra or [])
        try:
            return subprocess.call(command)
        except KeyboardInterrupt:
            return 130
