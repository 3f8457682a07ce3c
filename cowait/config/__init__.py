"""cowait.yml: schema, discovery, merge with the user-level config, and validation errors."""

from cowait.config.loader import Project, find_project_file, load_project

__all__ = ["Project", "find_project_file", "load_project"]
