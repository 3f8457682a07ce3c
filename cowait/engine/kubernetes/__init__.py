"""The Kubernetes engine: tasks as Pods, driven through the official client."""
