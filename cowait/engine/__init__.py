"""Container engines: one interface, a Docker engine and a Kubernetes engine."""
