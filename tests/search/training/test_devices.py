import multiprocessing
import os

from search.training.devices import children_see_only, visible_device


def test_a_spawned_worker_gets_the_gpu_this_process_numbers_so():
    assert visible_device(None, 1) == "1"
    assert visible_device("2,3", 1) == "3"
    assert visible_device("GPU-aa, GPU-bb", 0) == "GPU-aa"


def _report_visible(sink: "multiprocessing.Queue[str | None]") -> None:
    sink.put(os.environ.get("CUDA_VISIBLE_DEVICES"))


def test_a_child_started_inside_sees_its_gpu_alone_and_this_process_is_restored(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6")
    context = multiprocessing.get_context("spawn")
    sink = context.Queue()
    with children_see_only(2):
        child = context.Process(target=_report_visible, args=(sink,))
        child.start()
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "4,5,6"
    assert sink.get(timeout=60) == "6"
    child.join()
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    with children_see_only(None):
        assert "CUDA_VISIBLE_DEVICES" not in os.environ
    with children_see_only(1):
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
