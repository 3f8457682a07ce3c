"""Run with `cowait test`: tests run inside the project image and can start real tasks."""

from hello import hello


async def test_hello_greets_everyone():
    greetings = await hello(name="test", times=2)
    assert greetings == ["hello, test #0", "hello, test #1"]
