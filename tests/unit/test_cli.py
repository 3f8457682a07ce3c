"""The command line as a user meets it: help, version, config, new, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml


def test_help_lists_commands_and_version_prints(cowait):
    result = cowait("--help")
    assert result.code == 0
    for command in ("new", "build", "push", "config", "plugin"):
        assert f"  {command} " in result.stdout
    version = cowait("--version")
    assert version.code == 0
    from cowait.version import __version__

    assert version.stdout.strip() == f"cowait {__version__}"


def test_every_command_has_help(cowait):
    for args in (["new"], ["build"], ["push"], ["config"], ["config", "show"], ["config", "schema"],
                 ["plugin"], ["plugin", "install"], ["plugin", "uninstall"], ["init"]):
        result = cowait(*args, "--help")
        assert result.code == 0, (args, result.output)
        assert "Usage:" in result.stdout


def test_help_imports_no_heavy_module():
    code = ("import sys; from cowait.cli.main import main\n"
            "try:\n main(['--help'])\nexcept SystemExit: pass\n"
            "heavy = [m for m in ('docker', 'pydantic', 'yaml', 'jinja2', 'rich', 'testcontainers', 'kubernetes', 'compose') if m in sys.modules]\n"
            "print(heavy, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def test_unknown_command_is_a_usage_error(cowait):
    result = cowait("bogus")
    assert result.code == 2
    assert "No such command 'bogus'" in result.stderr


def test_config_show_prints_merged_yaml(cowait, make_project, isolated_home):
    (isolated_home / ".cowait.yml").write_text("clusters:\n  team: {type: kubernetes, context: t}\n")
    root = make_project({"cowait.yml": "version: 1\ncowait:\n  image: shown\n"})
    result = cowait("config", "show", cwd=root)
    assert result.code == 0, result.output
    data = yaml.safe_load(result.stdout)
    assert data["cowait"]["image"] == "shown"
    assert data["cowait"]["clusters"]["team"]["context"] == "t"
    assert str(root / "cowait.yml") in result.stderr


def test_config_schema_is_json_schema(cowait, tmp_path):
    result = cowait("config", "schema", cwd=tmp_path)
    assert result.code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "cowait.yml"
    assert "cowait" in schema["properties"]


def test_broken_config_is_one_line_exit_2_no_traceback(cowait, make_project):
    root = make_project({"cowait.yml": "version: 1\ncowait:\n  cpu: [1\n"})
    result = cowait("config", "show", cwd=root)
    assert result.code == 2
    assert result.stderr.strip().startswith("error: cowait.yml:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(cowait, make_project):
    root = make_project({"cowait.yml": "version: 1\ncowait:\n  image: x\n  features: {notebook: maybe}\n"})
    result = cowait("--debug", "config", "show", cwd=root)
    assert result.code == 2
    assert "Traceback" in result.stderr
    assert "error: cowait.yml:4: cowait.features.notebook" in result.stderr


def test_unknown_key_warning_on_stderr(cowait, make_project):
    root = make_project({"cowait.yml": "version: 1\ncowait:\n  imgae: x\n"})
    result = cowait("config", "show", cwd=root)
    assert result.code == 0
    assert "warning: cowait.yml:3: unknown key 'cowait.imgae' is ignored; did you mean 'image'?" in result.stderr


def test_no_color_is_honoured(cowait, make_project):
    root = make_project({"cowait.yml": "version: 1\ncowait:\n  imgae: x\n"})
    result = cowait("config", "show", cwd=root, env={"NO_COLOR": "1"})
    assert "\x1b[" not in result.stderr


def test_new_scaffolds_and_never_overwrites(cowait, tmp_path):
    first = cowait("new", "demo", cwd=tmp_path)
    assert first.code == 0, first.output
    project = tmp_path / "demo"
    for name in ("cowait.yml", "requirements.txt", ".dockerignore", "hello.py", "hello.ipynb", "test_hello.py"):
        assert (project / name).is_file(), name
    (project / "hello.py").write_text("# mine\n")
    again = cowait("init", cwd=project)
    assert again.code == 0
    assert (project / "hello.py").read_text() == "# mine\n"
    assert "kept    hello.py (exists)" in again.stderr
    # The scaffolded config is valid and the notebook is valid JSON nbformat 4
    assert cowait("config", "show", cwd=project).code == 0
    notebook = json.loads((project / "hello.ipynb").read_text())
    assert notebook["nbformat"] == 4 and notebook["metadata"]["kernelspec"]["name"] == "cowait"


def test_new_writes_image_and_base(cowait, tmp_path):
    assert cowait("new", "--image", "reg.example/app", "--base", "python:3.12-slim", cwd=tmp_path).code == 0
    data = yaml.safe_load((tmp_path / "cowait.yml").read_text())
    assert data["cowait"]["image"] == "reg.example/app"
    assert data["cowait"]["base"] == "python:3.12-slim"


def test_plugin_install_and_uninstall(cowait, isolated_home, tmp_path):
    plugin = isolated_home / ".docker" / "cli-plugins" / "docker-cowait"
    result = cowait("plugin", "install", cwd=tmp_path)
    assert result.code == 0, result.output
    assert plugin.is_file()
    meta = subprocess.run([str(plugin), "docker-cli-plugin-metadata"], capture_output=True, text=True)
    assert json.loads(meta.stdout)["SchemaVersion"] == "0.1.0"
    via_plugin = subprocess.run([str(plugin), "cowait", "--version"], capture_output=True, text=True)
    assert via_plugin.stdout.startswith("cowait ")
    assert cowait("plugin", "uninstall", cwd=tmp_path).code == 0
    assert not plugin.exists()


def test_plugin_install_refuses_a_foreign_file(cowait, isolated_home, tmp_path):
    plugin = isolated_home / ".docker" / "cli-plugins" / "docker-cowait"
    plugin.parent.mkdir(parents=True, exist_ok=True)
    plugin.write_text("#!/bin/sh\necho someone else\n")
    result = cowait("plugin", "install", cwd=tmp_path)
    assert result.code == 2
    assert "was not written by cowait" in result.stderr
    assert plugin.read_text() == "#!/bin/sh\necho someone else\n"
