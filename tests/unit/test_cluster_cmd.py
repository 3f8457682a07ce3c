"""`cowait cluster ...`: clusters in the user-level config, comments kept, errors exit non-zero."""

from __future__ import annotations

import yaml


def test_add_get_set_default_rm(cowait, isolated_home, tmp_path):
    config = isolated_home / ".cowait.yml"
    config.write_text("# my own notes\nclusters:\n  old: {type: kubernetes, context: old}  # keep me\n")
    added = cowait("cluster", "add", "demo", "--context", "demo-ctx", "--namespace", "jobs",
                   "-o", "pull_secrets=[\"regcred\"]", cwd=tmp_path)
    assert added.code == 0, added.output
    text = config.read_text()
    assert "# my own notes" in text and "# keep me" in text  # nothing the user wrote is lost
    data = yaml.safe_load(text)
    assert data["clusters"]["demo"] == {"type": "kubernetes", "pull_secrets": ["regcred"], "context": "demo-ctx",
                                        "namespace": "jobs"}
    got = cowait("cluster", "get", "demo", cwd=tmp_path)
    assert yaml.safe_load(got.stdout)["demo"]["namespace"] == "jobs"
    listed = cowait("cluster", "ls", cwd=tmp_path)
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert ["demo", "kubernetes", "~/.cowait.yml"] in rows and ["docker", "docker", "*", "built-in"] in rows
    assert cowait("cluster", "set-default", "demo", cwd=tmp_path).code == 0
    assert yaml.safe_load(config.read_text())["default_cluster"] == "demo"
    refused = cowait("cluster", "rm", "demo", cwd=tmp_path)
    assert refused.code == 2 and "is the default cluster" in refused.stderr
    assert cowait("cluster", "rm", "old", cwd=tmp_path).code == 0
    assert "old" not in yaml.safe_load(config.read_text())["clusters"]


def test_errors_exit_non_zero(cowait, isolated_home, tmp_path):
    assert cowait("cluster", "get", "nope", cwd=tmp_path).code == 2
    assert cowait("cluster", "rm", "nope", cwd=tmp_path).code == 2
    assert cowait("cluster", "set-default", "nope", cwd=tmp_path).code == 2
    assert cowait("cluster", "add", "docker", cwd=tmp_path).code == 2
    bad = cowait("cluster", "add", "x", "-o", "namespace=[1]", cwd=tmp_path)
    assert bad.code == 2 and "namespace" in bad.stderr
    assert cowait("cluster", "add", "twice", cwd=tmp_path).code == 0
    again = cowait("cluster", "add", "twice", cwd=tmp_path)
    assert again.code == 2 and "--force" in again.stderr
    setup = cowait("cluster", "setup", "docker", "--print", cwd=tmp_path)
    assert setup.code == 0 and "needs no setup" in setup.stdout
