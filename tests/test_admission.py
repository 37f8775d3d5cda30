"""Bounds on work in flight (issue 20): the REST gate, the decode memory budget, jobs that run out of memory."""

from __future__ import annotations

import io
import os
import threading
import time

import pytest
from PIL import Image

from services.common import admission
from services.common.admission import DecodeBudget, FairSlots, Gate, header_pixels
from services.common.bus import MemoryBus
from services.common.catalog import Catalog
from services.common.jobs import JobRunner
from services.common.metrics import Metrics
from services.core.errors import Busy, TooManyRequests
from services.core.models import Product


def test_the_gate_refuses_over_its_bounds_at_once_and_gives_back():
    gate = Gate(capacity=3, per_tenant=2, retry_after=2)
    with gate.admit("a"), gate.admit("a"):
        with pytest.raises(TooManyRequests) as tenant_full:
            with gate.admit("a"):
                pass
        assert tenant_full.value.retry_after == 2
        with gate.admit("b"):
            with pytest.raises(Busy) as full:
                with gate.admit("c"):
                    pass
            assert not isinstance(full.value, TooManyRequests) and full.value.code == "busy"
    with gate.admit("a"), gate.admit("a"), gate.admit("b"):  # every share came back
        pass


def test_decode_budget_holds_decoded_pixels_in_flight_in_all_and_per_tenant():
    budget = DecodeBudget(pixels=100, per_tenant=60, wait_s=0.2, retry_after=1)
    with budget.hold(50, "a"):
        with pytest.raises(Busy) as full:  # a request waits a while, then is told to retry
            with budget.hold(20, "a"):  # past plant a's share, though the budget has room
                pass
        assert full.value.code == "decode_budget" and budget.in_flight == 50
        with budget.hold(50, "b"):  # another tenant's share is untouched
            assert budget.in_flight == 100
            with pytest.raises(Busy):
                with budget.hold(1, "c"):  # the whole budget is spent
                    pass
    released = threading.Event()
    with budget.hold(1000, "a"):  # larger than a share: takes all of it and runs alone for its tenant
        assert budget.in_flight == 60
        with budget.hold(40, "b"):
            pass

        def job() -> None:
            with budget.hold(10, "a", wait=True):  # a job waits as long as it takes
                released.set()

        waiter = threading.Thread(target=job)
        waiter.start()
        assert not released.wait(0.3)
    waiter.join(10)
    assert released.is_set() and budget.in_flight == 0


def _wait_until(condition, timeout: float = 5.0) -> None:
    pause = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        pause.wait(0.01)
    raise AssertionError("condition not reached")


def test_inference_slots_go_to_tenants_in_turn():
    """Tenant a holds the one slot and queues three more calls, then b queues one: b's call runs second,
    not after all of a's (a first-come semaphore would run it last)."""
    slots = FairSlots(1)
    order: list[str] = []
    release = threading.Event()

    def call(name: str) -> None:
        with slots.hold(name[0]):
            order.append(name)

    def first() -> None:
        with slots.hold("a"):
            order.append("a0")
            release.wait(5)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    _wait_until(lambda: order == ["a0"])
    for n, name in enumerate(["a1", "a2", "a3", "b1"]):
        threads.append(threading.Thread(target=call, args=(name,)))
        threads[-1].start()
        _wait_until(lambda n=n: slots.waiting == n + 1)  # queued in this order
    release.set()
    for thread in threads:
        thread.join(5)
    assert order == ["a0", "a1", "b1", "a2", "a3"]
    assert slots.waiting == 0
    with slots.hold("c"):  # every slot was given back
        pass


def test_a_call_that_gives_up_waiting_leaves_no_ticket_behind(monkeypatch):
    """A wait ended by an exception (an interrupted thread) must not leave a ticket that blocks every later call."""
    slots = FairSlots(1)
    with slots.hold("a"):
        monkeypatch.setattr(admission._Ticket, "wait", lambda self: (_ for _ in ()).throw(TimeoutError("gave up")))
        with pytest.raises(TimeoutError):
            with slots.hold("b"):
                pass
        monkeypatch.undo()
        assert slots.waiting == 0
    with slots.hold("b"):
        pass


def _burn(seconds: float) -> None:
    """Spend CPU in this thread (a decode's work, as thread_time sees it)."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_a_tenants_decoding_cpu_is_paid_back_before_its_next_decode_and_only_its_own():
    budget = DecodeBudget(pixels=100, per_tenant=100, wait_s=5.0, retry_after=1, cpu_share=0.25, burst_s=0.0)
    with budget.hold(10, "a") as decoded:
        _burn(0.1)
        decoded()
        _burn(0.2)  # after decoded(): an inference, not charged
    start = time.monotonic()
    with budget.hold(10, "b"):  # another tenant owes nothing
        pass
    assert time.monotonic() - start < 0.1
    with budget.hold(10, "a"):  # 0.1 s of CPU at a quarter core: 0.4 s after the first began
        waited = time.monotonic() - start
    assert 0.05 < waited < 0.4, waited
    impatient = DecodeBudget(pixels=100, per_tenant=100, wait_s=0.05, retry_after=1, cpu_share=0.01, burst_s=0.0)
    with impatient.hold(10, "a"):
        _burn(0.05)
    with pytest.raises(Busy):  # a request does not wait out a 5 s debt: 503 with Retry-After
        with impatient.hold(10, "a"):
            pass


def _where() -> tuple[str, int]:
    """The running thread's name and OS niceness, and some CPU spent, as a decode would."""
    _burn(0.05)
    return threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def _corrupt() -> None:
    _burn(0.05)
    raise ValueError("not an image")


def test_decodes_of_a_tenant_over_its_share_and_of_huge_photos_yield_the_cpu_and_are_charged():
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    budget = DecodeBudget(pixels=100, per_tenant=100, wait_s=5.0, retry_after=1, cpu_share=0.01, burst_s=30.0, yield_nice=5, yield_pixels=50)
    with budget.hold(10, "a") as decoding:  # owes nothing yet: decodes in the caller's thread
        assert decoding.run(_where) == (threading.current_thread().name, base)
    assert decoding.spent >= 0.04
    with budget.hold(10, "a") as decoding:  # 0.05 s of CPU at a hundredth of a core: it owes 5 s now
        name, nice = decoding.run(_where)
    assert name.startswith("decode-yielding") and nice == min(19, base + 5), (name, nice)
    assert decoding.spent >= 0.04  # charged though it ran on another thread
    with budget.hold(10, "a") as decoding, pytest.raises(ValueError):  # a corrupt picture is charged too
        decoding.run(_corrupt)
    assert decoding.spent >= 0.04
    with budget.hold(10, "b") as decoding:  # another tenant owes nothing
        assert decoding.run(_where)[1] == base and decoding.lane is None  # its inspection then takes a slot
    with budget.hold(60, "b") as decoding:  # a huge photo is bulk work whoever sends it
        assert decoding.run(_where)[1] == min(19, base + 5) and decoding.lane is not None
    same = DecodeBudget(pixels=100, per_tenant=100, wait_s=5.0, retry_after=1, cpu_share=0.01, burst_s=30.0, yield_nice=0, yield_pixels=50)
    with same.hold(60, "a") as decoding:  # yield_nice 0: no lane
        assert decoding.run(_where)[1] == base


def test_header_pixels_reads_the_size_without_decoding():
    png = io.BytesIO()
    Image.new("L", (4000, 3000)).save(png, "PNG")
    assert header_pixels(png.getvalue()) == 12_000_000
    assert header_pixels(b"not an image") == 0


def test_a_job_out_of_memory_fails_for_good(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    bus = MemoryBus()
    runner = JobRunner(catalog, bus, Metrics(lambda: 0.0, lambda: 0.0), open_per_tenant=5)

    def exhausting(job, progress):
        raise MemoryError

    runner.handlers["build"] = exhausting
    product = Product(id="p1", tenant="default", name="tile", description="", created_at="2026-01-01T00:00:00Z", active_version=None, next_version=1)
    job = runner.submit("default", product, "build", {"version": 1})
    runner.run(job.id)
    failed = catalog.jobs.get(job.id, "default")
    assert failed.state == "failed" and failed.error["code"] == "out_of_memory"
    assert [j.id for j in catalog.jobs.open()] == []  # a restart does not run it into the same failure


def test_tenants_take_turns_on_the_in_process_bus():
    """One tenant's three queued jobs delay another tenant's build by one job, not three (issue 20, Medium #4)."""
    tenants = {"a1": "plant-a", "a2": "plant-a", "a3": "plant-a", "b1": "plant-b"}
    bus = MemoryBus()
    for job_id, tenant in tenants.items():
        bus.publish(job_id, "zeroshot", tenant)
    order: list[str] = []
    done = threading.Event()

    def handle(job_id: str) -> None:
        order.append(job_id)
        if len(order) == len(tenants):
            done.set()

    bus.start(handle, workers=1)
    try:
        assert done.wait(30)
    finally:
        bus.close()
    assert order == ["a1", "b1", "a2", "a3"]  # before: a1, a2, a3, b1


def test_quotas_on_products_and_open_jobs(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    runner = JobRunner(catalog, MemoryBus(), Metrics(lambda: 0.0, lambda: 0.0), open_per_tenant=2)
    product = catalog.products.create("p1", "plant-a", "tile", "")
    runner.submit("plant-a", product, "build", {"version": 1})
    runner.submit("plant-a", product, "build", {"version": 2})
    with pytest.raises(TooManyRequests):  # queued without bound before
        runner.submit("plant-a", product, "build", {"version": 3})
    runner.submit("plant-b", catalog.products.create("p2", "plant-b", "tile", ""), "build", {"version": 1})  # another tenant's quota


def test_bulk_inspections_run_in_the_yielding_lane_beside_the_slot_and_small_ones_wait_for_it(tmp_path, tile_root):
    """Another tenant's inference holds the only slot: a photo of decode_yield_pixels or more is scored in the
    lane at once (it never holds the slot another tenant waits for), a small photo waits its turn."""
    from fastapi.testclient import TestClient

    from goldenshot.settings import Settings
    from serving import files
    from services.common.settings import ServiceSettings
    from services.ingest.app import create_app
    from services.runtime import Runtime

    golden = sorted((tile_root / "train" / "good").iterdir())[:3]
    photo = golden[0].read_bytes()
    pixels = header_pixels(photo)
    small = io.BytesIO()
    Image.open(golden[0]).convert("RGB").resize((96, 96)).save(small, "PNG")
    service = ServiceSettings(data_dir=tmp_path / "data", grpc_port=None, decode_yield_pixels=pixels, inference_slots=1)
    runtime = Runtime(service, Settings())
    with TestClient(create_app(runtime), base_url="http://127.0.0.1") as client:
        assert client.post("/v1/products", json={"name": "tile"}).status_code == 201
        assert client.post("/v1/products/tile/golden", files=files(golden)).status_code == 201
        job = client.post("/v1/products/tile/fingerprints").json()
        for _ in range(600):
            if (state := client.get(f"/v1/jobs/{job['id']}").json()["state"]) in ("succeeded", "failed"):
                break
            time.sleep(0.2)
        assert state == "succeeded"
        answers: dict[str, int] = {}

        def inspect(name: str, data: bytes) -> threading.Thread:
            def post() -> None:
                answers[name] = client.post("/v1/products/tile/inspect", files=[("file", ("p.png", data, "image/png"))]).status_code
            thread = threading.Thread(target=post, daemon=True)
            thread.start()
            return thread

        with runtime.scorer.slot("someone-else"):
            inspect("bulk", photo).join(30)
            assert answers == {"bulk": 200}  # scored beside the held slot
            behind = inspect("small", small.getvalue())
            behind.join(1.5)
            assert behind.is_alive() and "small" not in answers  # an ordinary photo waits for the slot
        behind.join(30)
        assert answers["small"] == 200
