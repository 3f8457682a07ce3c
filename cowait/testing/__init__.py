"""``cowait test``: the project's pytest suite in its own image, and the pytest plugin it uses."""
