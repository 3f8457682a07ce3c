"""An example task: `cowait run hello -i name=world`."""

import cowait


@cowait.task
async def hello(name: str = "world", times: int = 3) -> list:
    """Greet `times` times in parallel subtasks and return the greetings."""
    if times <= 1:
        greeting = f"hello, {name}"
        print(greeting)
        return [greeting]
    parts = await cowait.join([hello(name=f"{name} #{i}", times=1) for i in range(times)])
    return [greeting for part in parts for greeting in part]
