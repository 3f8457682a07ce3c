"""What runs inside a task container: entrypoint, task loading, inputs and outputs, events."""
