"""Workers take the documents whose rules they have compiled (issue 18 target 5).

The family guess, the queue's preference, and on real workers: a batch of mixed UBL and CII
suite files has each of two workers compile one syntax's rules, with every report as the
in-process engine gives it.
"""

from __future__ import annotations

import time
from pathlib import Path

from gateway.validation import Engine, Validator
from gateway.validation.pool.fairqueue import FairQueue, Job, family
from tests.validation import payloads

SUITE = payloads.SHARED / "corpus/xrechnung-testsuite"


def test_family_is_the_root_and_the_cius() -> None:
    families = {family(p.read_bytes()) for p in SUITE.rglob("*.xml")}
    # Standard, extension and CVD documents share XRechnung's stylesheets: one family each.
    assert families == {
        b"Invoice|urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
        b"CrossIndustryInvoice|urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
    }
    peppol = family(payloads.base_example())
    assert peppol.startswith(b"Invoice|") and b"peppol" in peppol
    assert family(b"<a/>") == b"a|"
    assert family(b"anything", "peppol-bis3-invoice") == b"peppol-bis3-invoice"


def _job(fam: bytes, key: str = "k") -> Job:
    return Job(message=b"", size=1, deadline=0, key=key, family=fam)


def test_the_queue_prefers_a_family_within_its_lookahead_and_keeps_keys_fair() -> None:
    q = FairQueue()
    jobs = [_job(b"U"), _job(b"U"), _job(b"C"), _job(b"X", key="other")]
    for job in jobs:
        q.put(job)
    assert q.count(b"U") == 2
    assert q.pop(prefer={b"C"}) is jobs[2]  # found behind two others of its key
    assert q.pop(prefer={b"C"}) is jobs[3]  # the next key's turn: fairness first
    assert q.pop(avoid={b"U"}) is jobs[0]  # nothing else: the head
    assert q.pop() is jobs[1] and q.pop() is None and len(q) == 0
    # Serving traffic the head waits at most ``patience``: then it goes first.
    old, new = _job(b"C"), _job(b"U")
    old.queued_at -= 1.0
    q.put(old)
    q.put(new)
    assert q.pop(prefer={b"U"}, patience=0.5) is old
    assert q.pop(prefer={b"U"}, patience=0.5) is new


async def test_a_mixed_batch_compiles_each_syntax_once(installed_data_dir: Path) -> None:
    files = sorted(SUITE.rglob("*.xml"))[:40]
    items = [(p.read_bytes(), None) for p in files]
    with Validator(installed_data_dir / "artefacts", jobs=2, warm=False, batch=True) as pool:
        deadline = time.monotonic() + 120
        while any(w["state"] != "idle" for w in pool.health()["workers"]):
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.05)  # both up: a worker still starting is not waited for
        reports = pool.map(items, [p.name for p in files])
        workers = pool._workers._workers  # type: ignore[union-attr]
        assert sorted(len(w.families) for w in workers) == [1, 1]
        assert sum(w.documents for w in workers) == len(files)
    engine = Engine(installed_data_dir / "artefacts")
    for (data, _), report in zip(items, reports, strict=True):
        alone = engine.validate(data)
        assert (report.status, report.scenario, len(report.findings)) == (
            alone.status,
            alone.scenario,
            len(alone.findings),
        )
