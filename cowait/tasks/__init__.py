"""Built-in tasks: ``cowait.tasks.shell`` (a command), ``cowait.tasks.container`` (another image),
and, with notebooks, ``cowait.tasks.notebook``."""
