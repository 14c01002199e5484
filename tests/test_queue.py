"""One queue contract on both brokers: in-process (memory://) and Redis."""

from __future__ import annotations

import threading

import pytest

from app.queue import TaskQueue

pytestmark = pytest.mark.nodb


@pytest.fixture(params=["memory", "redis"])
def queue(request):
    url = "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")
    task_queue = TaskQueue(url)
    yield task_queue
    task_queue.stop()


def test_tasks_run_with_their_arguments(queue):
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def handler(first: str, second: str) -> None:
        seen.append((first, second))
        if len(seen) == 3:
            done.set()

    queue.register("collect", handler)
    queue.start_workers(2)
    for n in range(3):
        queue.send("collect", f"a{n}", "b")
    assert done.wait(15)
    assert sorted(seen) == [("a0", "b"), ("a1", "b"), ("a2", "b")]


def test_delayed_send(queue):
    done = threading.Event()
    queue.register("later", lambda value: done.set())
    queue.start_workers(1)
    queue.send("later", "x", delay_seconds=0.3)
    assert not done.wait(0.1)
    assert done.wait(15)


def test_a_failing_task_does_not_stop_the_workers(queue):
    done = threading.Event()

    def handler(value: str) -> None:
        if value == "boom":
            raise RuntimeError("boom")
        done.set()

    queue.register("sometimes", handler)
    queue.start_workers(1)
    queue.send("sometimes", "boom")
    queue.send("sometimes", "fine")
    assert done.wait(15)


def test_unknown_queue_url_is_a_configuration_error():
    from app.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        TaskQueue("amqp://localhost")
