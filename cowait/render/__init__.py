"""Render a run into the files an engine applies: Compose projects and Kubernetes manifests."""
