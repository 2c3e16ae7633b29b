"""The compose test's owner labels (python/stackkit/compose_owner.py): a run
is alive only while the very process it names runs, and a stack is taken down
only when killed runs of the test left every part of it."""
import os
import subprocess
import sys

from stackkit import compose_owner

PROJECT = "pokedex-stack"
OTHER_BOOT = "00000000-0000-4000-8000-000000000000"


def a_finished_process():
    """The run of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = compose_owner.run_of(child.pid)
    finally:
        child.kill()
        child.wait()
    return owner


def test_this_run_is_alive_and_names_this_process():
    owner = compose_owner.this_run()
    boot, pid, start = owner.split("/")
    assert boot == compose_owner.boot_id()
    assert int(pid) == os.getpid()
    assert compose_owner.run_is_alive(owner)


def test_a_run_whose_process_exited_is_not_alive():
    assert not compose_owner.run_is_alive(a_finished_process())


def test_a_run_of_another_boot_or_a_reused_pid_is_not_alive():
    boot, pid, start = compose_owner.this_run().split("/")
    assert boot != OTHER_BOOT
    assert not compose_owner.run_is_alive("%s/%s/%s" % (OTHER_BOOT, pid, start))
    assert not compose_owner.run_is_alive("%s/%s/%d" % (boot, pid, int(start) + 1))


def test_a_label_not_naming_a_run_is_neither_a_run_nor_alive():
    for label in ("", "someone", "a/b/c", "boot/12", "boot/12/34/56", "/12/34"):
        assert not compose_owner.is_a_run(label), label
        assert not compose_owner.run_is_alive(label), label


def test_only_a_stack_left_wholly_by_killed_runs_may_be_taken_down():
    dead = a_finished_process()
    also_dead = a_finished_process()
    assert compose_owner.refusal([dead, dead, also_dead], PROJECT) is None

    unlabelled = compose_owner.refusal([dead, ""], PROJECT)
    assert unlabelled is not None and "not started by this test" in unlabelled

    foreign = compose_owner.refusal([dead, "someone-else"], PROJECT)
    assert foreign is not None and "not started by this test" in foreign

    live = compose_owner.this_run()
    running = compose_owner.refusal([dead, live], PROJECT)
    assert running is not None and live in running and "another run" in running
