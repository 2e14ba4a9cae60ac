"""Where a command's wall time goes, from samples of its main thread's stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import stack_samples

ROOT = Path(__file__).resolve().parents[2]


def test_a_commands_time_is_found_where_it_went(tmp_path: Path) -> None:
    (tmp_path / "sampled_probe.py").write_text(
        "import time\n\n\ndef main():\n    wait()\n\n\ndef wait():\n    time.sleep(0.6)\n\n\n"
        "if __name__ == '__main__':\n    main()\n"
    )
    samples = tmp_path / "samples.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    command = [
        sys.executable,
        "-m",
        "bench.stack_samples",
        "--out",
        str(samples),
        "--",
        "-m",
        "sampled_probe",
    ]
    subprocess.run(command, env=env, check=True, cwd=tmp_path)
    phases = dict(stack_samples.summary(samples, until=float("inf")))
    waited = phases[f"other: {tmp_path.name}/sampled_probe.py:wait"]
    assert waited == pytest.approx(0.6, abs=0.1)
    assert sum(phases.values()) < 0.6 + 0.2
    assert (
        dict(stack_samples.summary(samples, until=0.3))[f"other: {tmp_path.name}/sampled_probe.py:wait"]
        < 0.35
    )


RUN = ["<frozen runpy>:_run_code", "/p/search/run.py:<module>", "/p/search/run.py:main"]
TRIAL = [*RUN, "/p/search/trials/runner.py:run_trial"]


@pytest.mark.parametrize(
    ("stack", "phase"),
    [
        ([*RUN, "/p/search/trials/plan.py:make_plan", "/s/torch/__init__.py:<module>"], "importing"),
        ([*TRIAL, "/s/torch/_inductor/compile_fx.py:compile"], "trial compiling"),
        (
            [*TRIAL, "/s/torch/_dynamo/eval_frame.py:_fn", "/p/model/head_loss_triton.py:loss"],
            "trial compiling",
        ),
        ([*TRIAL, "/p/search/training/step.py:_step"], "trial training steps"),
        ([*TRIAL, "/p/search/trials/storing.py:store"], "trial other: trials/storing.py:store"),
        ([*RUN[:2]], "other: idle"),
        (
            ["/usr/lib/python3.10/runpy.py:_run_code", *RUN[1:], "/p/search/training/trainer.py:train"],
            "training steps",
        ),
    ],
)
def test_a_sample_is_put_in_the_phase_of_what_the_command_called(stack: list[str], phase: str) -> None:
    assert stack_samples.phase_of(stack) == phase
