"""``cowait test``: the project's pytest suite in its own image, and the pytest plugin it uses."""

# The JUnit report's name in the run's record: the plugin sends it there, `cowait test` copies it out.
JUNIT_FILE = "junit.xml"
