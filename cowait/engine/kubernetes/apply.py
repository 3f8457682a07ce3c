"""Apply manifests (create, or replace what exists), like `kubectl apply` for our own objects."""

from __future__ import annotations

from typing import Any, Iterator

from cowait.errors import EngineError


def apply_documents(api_client: Any, documents: list[dict[str, Any]]) -> Iterator[str]:
    """Create each object, or replace it when it exists; yield kubectl-style lines."""
    from kubernetes.client.exceptions import ApiException
    from kubernetes.dynamic import DynamicClient

    dynamic = DynamicClient(api_client)
    for document in documents:
        if not document:
            continue
        kind, name = document["kind"], document["metadata"]["name"]
        namespace = document["metadata"].get("namespace")
        resource = dynamic.resources.get(api_version=document["apiVersion"], kind=kind)
        try:
            resource.create(body=document, namespace=namespace)
            yield f"{kind.lower()}/{name} created"
        except ApiException as exc:
            if exc.status != 409:
                raise EngineError(f"cannot create {kind} {name}: {exc.status} {exc.reason}",
                                  hint="you need rights to manage RBAC in that namespace") from exc
            current = resource.get(name=name, namespace=namespace)
            document = {**document, "metadata": {**document["metadata"],
                                                 "resourceVersion": current.metadata.resourceVersion}}
            resource.replace(body=document, namespace=namespace)
            yield f"{kind.lower()}/{name} configured"
