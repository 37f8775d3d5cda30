"""The inference threads shared among inspections running at once (goldenshot.threads)."""

from __future__ import annotations

import threading

import torch

from goldenshot.threads import ThreadShare


def test_inspections_running_at_once_split_the_threads_and_a_lone_one_gets_them_all() -> None:
    before = torch.get_num_threads()
    share = ThreadShare()
    try:
        with share.running():  # not told the thread count: torch's own setting stands
            assert share.width(4) == 4 and torch.get_num_threads() == before
        share.set_threads(2)
        inside, leave = threading.Barrier(2), threading.Event()
        seen: dict[str, tuple[int, int]] = {}

        def other() -> None:
            with share.running():
                seen["second, on entering"] = (share.width(2), torch.get_num_threads())
                inside.wait()
                leave.wait(10)

        with share.running():
            seen["first, alone"] = (share.width(2), torch.get_num_threads())
            worker = threading.Thread(target=other)
            worker.start()
            inside.wait()
            share.apply()
            seen["first, beside the second"] = (share.width(2), torch.get_num_threads())
            leave.set()
            worker.join()
            share.apply()
            seen["first, alone again"] = (share.width(2), torch.get_num_threads())
        assert seen == {"first, alone": (2, 2), "second, on entering": (1, 1), "first, beside the second": (1, 1), "first, alone again": (2, 2)}
        assert share.width(1) == 1 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
