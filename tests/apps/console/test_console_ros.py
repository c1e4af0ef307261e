"""The console as a client of the ROS sim graph (`skillstack console --ros`), driven in headless Chromium: a task
typed and run to success (checked on the simulator's object states), a correction typed during the place
(applied by the scheduler's running skill and stored), one typed while idle (stored, switched off, undone), one
spoken into the fake microphone, and the e-stop (the arm stops, the task fails); then, over the API, a refused
task and a cancel."""
from __future__ import annotations

import pytest
from ros_helpers import graph_with_client, requires_ros

from browser import chromium, open_page, requires_browser, type_into, until
from console_client import VOICE, Console, stop_console, wait_for

pytestmark = [requires_ros, pytest.mark.slow, pytest.mark.serial]


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """The sim graph (its own ROS domain and correction store), a test client of it and the console over it."""
    from ros_client import RobotClient

    from skill_stack_apps.console.ros import RosBackend, RosConfig
    from skill_stack_apps.console.server import ConsoleServer, ServeOptions

    folder = tmp_path_factory.mktemp("console_ros")
    data = folder / "data"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SKILL_STACK_DATA", str(data))  # the graph's processes take it at launch
        graph = graph_with_client(["seed:=0"], folder, RobotClient, lambda client: client.wait_ready(90.0))
        launched, client = next(graph)
    try:
        backend = RosBackend(RosConfig(domain=launched.domain, db=data / "corrections.db"))
        backend.start()
        console = Console(backend, ConsoleServer(backend, ServeOptions(port=0)).start())
        try:
            wait_for(lambda: backend.state.ready, 30, "the console to see the scheduler")
            yield console, client
        finally:
            stop_console(console)
    finally:
        graph.close()


@pytest.fixture(scope="module")
def browser():
    driver = chromium(microphone=VOICE / "left_two_cm.wav")
    yield driver
    driver.quit()


def tray_offset(client, name: str) -> tuple[float, float]:
    """Where `name` is relative to the tray's centre, on the simulator's `objects` topic."""
    positions = client.object_positions()
    rel = positions[name][:2] - positions["tray"][:2]
    return float(rel[0]), float(rel[1])


@requires_browser
def test_a_task_typed_succeeds_and_a_correction_during_the_place_is_applied(graph, browser):
    console, client = graph
    client.wait_idle()
    find = open_page(browser, console)
    type_into(find("#task-input"), "put the red cube in the tray")
    find("#task-run").click()
    page = until(browser, lambda p: len(p["plan"]) == 2 and p["plan"][1]["state"] == "running", "the place", 60)
    assert page["plan"][0]["state"] == "succeeded" and page["plan"][0]["policy"] in ("learned", "scripted")
    type_into(find("#correction-input"), "3 cm to the left")
    find("#correction-send").click()
    page = until(browser, lambda p: p["feed"] and p["feed"][0]["status"] not in ("queued",), "the correction", 30)
    assert page["feed"][0]["status"] == "applied", page
    assert "place.offset_y +0.03" in page["feed"][0]["text"]
    page = until(browser, lambda p: p["task_state"] != "running", "the task to end", 90)
    assert page["task_state"] == "succeeded" and page["goals"] == ["true"], page
    assert abs(tray_offset(client, "red_cube")[1] - 0.03) < 0.012  # the simulator's object states agree
    assert [r.text for r in console.backend.store.all()] == ["3 cm to the left"]  # the scheduler stored it


@requires_browser
def test_a_correction_typed_while_idle_is_stored_switched_off_and_undone(graph, browser):
    console, client = graph
    client.wait_idle()
    find = open_page(browser, console)
    type_into(find("#correction-input"), "grasp it 1 cm lower")
    find("#correction-send").click()
    page = until(browser, lambda p: p["feed"] and p["feed"][0]["text"].count("grasp it 1 cm lower")
                 and p["feed"][0]["status"] != "queued", "the correction", 30)
    item = page["feed"][0]
    assert item["status"] == "stored" and "pick.grasp_offset -0.01" in item["text"], item
    record_id = int(item["records"])
    assert console.backend.store.get(record_id).source == "topic"  # stored by the scheduler
    until(browser, lambda p: record_id in p["memory"], "the record in the memory table", 10)
    find(f"#memory tr[data-id='{record_id}'] .switch").click()
    wait_for(lambda: console.backend.store.get(record_id).disabled, 10, "the record switched off")
    find(f"#correction-feed li[data-records='{record_id}'] .undo").click()
    wait_for(lambda: console.backend.store.get(record_id) is None, 10, "the record deleted")


@requires_browser
def test_push_to_talk_over_ros(graph, browser):
    from selenium.webdriver.common.action_chains import ActionChains

    console, client = graph
    client.wait_idle()
    find = open_page(browser, console)
    before = {r.id for r in console.backend.store.all()}
    ActionChains(browser).click_and_hold(find("#ptt")).pause(3.5).release().perform()  # the WAV is 2.6 s
    page = until(browser, lambda p: (p["feed"] and "two centimet" in p["feed"][0]["text"]
                                     and p["feed"][0]["status"] != "queued") or p["notice"], "the spoken correction",
                 30)
    assert page["feed"][0]["status"] == "stored", page
    [record] = [r for r in console.backend.store.all() if r.id not in before]
    # either spelling: Whisper writes "centimetres", pocketsphinx's dictionary "centimeters"
    assert record.text in ("two centimeters to the left", "two centimetres to the left")
    assert (record.parameter, record.value) == ("offset_y", 0.02)


@requires_browser
def test_estop_stops_the_arm_and_the_task_fails(graph, browser):
    console, client = graph
    client.wait_idle()
    find = open_page(browser, console)
    type_into(find("#task-input"), "put the green cube in the tray")
    find("#task-run").click()
    until(browser, lambda p: p["plan"] and p["plan"][0]["state"] == "running", "the pick", 30)
    wait_for(lambda: client.arm_motion(0.2) > 0.01, 20, "the arm to move")
    find("#estop").click()
    page = until(browser, lambda p: p["task_state"] != "running", "the task to end", 20)
    assert page["task_state"] == "failed" and page["estopped"], page
    assert client.arm_motion(1.0) < 1e-3  # the joint states say it stands still
    assert client.hardware_status.estopped
    find("#estop-reset").click()
    until(browser, lambda p: not p["estopped"], "the e-stop reset", 10)


def test_a_refused_task_and_a_cancel_over_the_api(graph):
    console, client = graph
    client.wait_idle()
    before = client.arm_positions()
    refused = console.wait_task(console.run_task("put the purple elephant in the tray"), timeout=30)
    assert refused["state"] == "refused" and "purple" in refused["message"], refused
    assert float(abs(client.arm_positions() - before).max()) < 1e-3  # nothing moved
    task_id = console.run_task("put the blue cube in the tray")
    console.running_step(task_id, "pick", progress=0.2)
    code, data = console.call("POST", "/api/tasks", {"task": "open the gripper"})
    assert code == 409 and "still running" in data["error"]
    console.ok("POST", f"/api/tasks/{task_id}/cancel")
    task = console.wait_task(task_id, timeout=20)
    assert task["state"] == "canceled" and not task["success"], task
    assert client.arm_motion(1.0) < 1e-3  # stopped
