import pytest

from .netlab import Lab, skip_reason

_REASON: list[str | None] = []


def _reason() -> str | None:
    if not _REASON:
        _REASON.append(skip_reason())
    return _REASON[0]


@pytest.fixture
def make_lab(tmp_path):
    """``make_lab(nodes=2, lans=1, client=False)`` → a ``Lab``, torn down after the test."""
    reason = _reason()
    if reason:
        pytest.skip(reason)
    labs: list[Lab] = []

    def make(**kw) -> Lab:
        lab = Lab(tmp_path, **kw)
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.close()
