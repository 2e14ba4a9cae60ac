import pytest

from tests.conftest import NO_CPU_SKIPS

SKIPPING = """
import pytest

@pytest.fixture
def corpus():
    pytest.skip("corpus not found")

def test_without_its_data(corpus):
    pass

def test_that_looks_for_its_data_itself():
    pytest.skip("tokenizer.json not found")

@pytest.mark.gpu
def test_on_a_gpu():
    pytest.skip("needs a CUDA GPU")

@pytest.mark.xfail(reason="a known failure")
def test_known_to_fail():
    assert False

def test_that_runs():
    pass
"""


@pytest.fixture
def session(pytester: pytest.Pytester) -> pytest.Pytester:
    """A test session of its own, with this project's rule for skips and five tests."""
    pytester.makeconftest("from tests.conftest import pytest_runtest_makereport  # noqa: F401\n")
    pytester.makeini("[pytest]\nmarkers =\n    gpu: needs a CUDA GPU\n")
    pytester.makepyfile(SKIPPING)
    return pytester


def test_with_the_ci_setting_a_cpu_test_skipped_for_missing_data_fails(session, monkeypatch):
    monkeypatch.setenv(NO_CPU_SKIPS, "1")
    result = session.runpytest()
    # A skip while setting up (a fixture's) is reported as an error, one in the test itself as a failure.
    result.assert_outcomes(passed=1, errors=1, failed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines_random(
        [
            "corpus not found: skipped, but HOURGLASS_NO_CPU_SKIPS=1 requires every CPU test to run",
            "tokenizer.json not found: skipped, but HOURGLASS_NO_CPU_SKIPS=1 requires every CPU test to run",
        ]
    )


@pytest.mark.parametrize("setting", [None, "0"])
def test_without_it_skips_stay_skips(session, monkeypatch, setting):
    if setting is None:
        monkeypatch.delenv(NO_CPU_SKIPS, raising=False)
    else:
        monkeypatch.setenv(NO_CPU_SKIPS, setting)
    session.runpytest().assert_outcomes(passed=1, skipped=3, xfailed=1)
