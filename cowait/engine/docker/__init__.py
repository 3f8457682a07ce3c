"""The local Docker engine, driven through the Docker API."""
