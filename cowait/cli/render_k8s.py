"""``cowait render k8s``: every object a run on a cluster would create, as YAML for kubectl."""

from __future__ import annotations

import click

from cowait.cli.run_cmd import RunFlags, run_options


@click.command("k8s")
@click.argument("task", required=False)
@click.option("--share", type=click.Choice(["stream", "ro", "off"]),
              help="For 'notebook': the file share's sidecar (read-write or read-only), or none "
                   "(default: stream, unless fileshare.enabled is false in cowait.yml).")
@run_options
def k8s(task: str | None, flags: RunFlags, share: str | None) -> None:
    """The Pod (and router objects) of a run of TASK, or of 'notebook', on CLUSTER."""
    from cowait.cli.output import result, warning
    from cowait.cli.project import open_project
    from cowait.engine.kubernetes.manifests import pod_yaml, router_yaml
    from cowait.errors import CowaitError, UsageError
    from cowait.engine.registry import engine_for_cluster
    from cowait.runs.plan import check_task_ref, plan_run

    if not task:
        raise UsageError("name the task to render (or 'notebook'), e.g. 'cowait render k8s hello -c demo'")
    project = open_project()
    name, config = project.cluster(flags.cluster)
    image = flags.image
    if config.type != "kubernetes":
        raise UsageError(f"cluster '{name}' is of type {config.type}; name a kubernetes cluster with -c")
    task_inputs: dict = {}
    notebook = task == "notebook"
    if notebook:
        task, task_inputs = "cowait.notebook.server:JupyterLab", {"token": "<generated at start>", "port": 8888}
    else:
        check_task_ref(project, task, flags.options(task).inputs)
    engine = engine_for_cluster(config)
    try:
        ref = engine.run_image(project, image, [])
    except CowaitError as exc:
        ref = image or f"{project.image}:latest"
        warning(f"{exc.message}: rendering with {ref}")
    options = flags.options(task, task_inputs, cluster=name)
    root = plan_run(project, options, engine, ref, [])
    documents = [pod_yaml(root)]
    if notebook:
        from cowait.fileshare.cluster import pod_option

        engine.publish(root, 8888)
        share = share or ("stream" if project.settings.fileshare.enabled else "off")
        if share != "off":
            root.engine_options["fileshare"] = pod_option(read_only=share == "ro")
        documents = [pod_yaml(root), *router_yaml(root, "<uid of the pod>", 8888)]
    result("---\n".join(d.rstrip() + "\n" for d in documents).rstrip())
