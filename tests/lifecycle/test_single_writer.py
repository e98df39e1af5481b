"""Only gateway/lifecycle writes document statuses: an AST scan of every other module.

It flags, outside ``gateway/lifecycle``: assignments to a ``.status`` attribute, ``setattr(x,
"status", ...)``, ``.values(status=...)`` / ``.update(status=...)`` (SQL updates of the column,
keyword or dict), ``Document(..., status=...)``, any use of ``StatusChange(...)`` or
``insert(StatusChange)`` (history rows), and SQL text that updates ``documents`` or inserts
into ``status_history``. The allow-list names the few ``.status`` attributes that are not a
document's, each with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import gateway

ROOT = Path(gateway.__file__).resolve().parent
OWNER = ROOT / "lifecycle"

#: (file relative to gateway/, source of the assigned target) -> why it is not a document status
ALLOWED = {
    ("web/problems.py", "self.status"): "the HTTP status code of a problem response",
    ("responses/service.py", "rec.status"): "InvoiceResponseRecord.status: the mapped status "
    "a response asks for (the lifecycle then moves the invoice)",
}


def _allowed(rel: str, target: str) -> bool:
    if (rel, target) in ALLOWED:
        return True
    # ValidationReport.status (the verdict: accepted, rejected, ...) anywhere in validation/.
    return rel.startswith("validation/") and target.endswith("report.status")


def _is_status_key(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == "status"


def violations(source: str, rel: str) -> list[str]:
    """Every status write in ``source`` (a module at ``gateway/<rel>``) not in ALLOWED."""
    tree = ast.parse(source)
    found: list[str] = []

    def flag(node: ast.AST, what: str) -> None:
        found.append(f"{rel}:{getattr(node, 'lineno', '?')}: {what}")

    def targets(node: ast.AST) -> list[ast.AST]:
        if isinstance(node, ast.Tuple | ast.List):
            return [t for e in node.elts for t in targets(e)]
        return [node]

    for node in ast.walk(tree):
        assigned: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            assigned = [t for tgt in node.targets for t in targets(tgt)]
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            assigned = targets(node.target)
        for t in assigned:
            if isinstance(t, ast.Attribute) and t.attr == "status":
                src = ast.unparse(t)
                if not _allowed(rel, src):
                    flag(t, f"assigns {src}")
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "setattr" and len(node.args) > 1 and _is_status_key(node.args[1]):
                flag(node, "setattr(..., 'status', ...)")
            if name in ("values", "update") and (
                any(k.arg == "status" for k in node.keywords)
                or any(
                    isinstance(a, ast.Dict) and any(_is_status_key(k) for k in a.keys if k)
                    for a in node.args
                )
            ):
                flag(node, f"{name}(status=...) writes the status column")
            if name == "Document" and any(k.arg == "status" for k in node.keywords):
                flag(node, "Document(status=...)")
            if name == "StatusChange" or (
                name == "insert" and any(ast.unparse(a) == "StatusChange" for a in node.args)
            ):
                flag(node, "writes a status history row")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = " ".join(node.value.lower().split())
            if "update documents" in text or "insert into status_history" in text:
                flag(node, "SQL text writing statuses")
    return found


def test_nothing_outside_the_lifecycle_writes_a_status() -> None:
    problems: list[str] = []
    scanned = 0
    for path in sorted(ROOT.rglob("*.py")):
        if OWNER in path.parents or "migrations" in path.parts:
            continue
        scanned += 1
        problems += violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert scanned > 50
    assert not problems, "status writes outside gateway/lifecycle:\n" + "\n".join(problems)


def test_the_scan_catches_each_kind_of_write() -> None:
    snippets = [
        "doc.status = 'paid'",
        "doc.status, doc.duplicate_of = 'duplicate', x",
        "setattr(doc, 'status', 'paid')",
        "update(Document).values(status='paid')",
        "update(Document).values({'status': 'paid'})",
        "Document(id='x', status='queued')",
        "session.add(StatusChange(document_id='x', to_status='paid'))",
        "session.execute(insert(StatusChange), rows)",
        "text('UPDATE documents SET status = 1')",
    ]
    for snippet in snippets:
        assert violations(snippet, "somewhere.py"), snippet
    assert not violations("self.status = 409", "web/problems.py")
    assert not violations("item.state = 'queued'\nx = doc.status", "somewhere.py")


def test_the_lifecycle_itself_is_the_writer() -> None:
    """The scan is not vacuous: the owner package does what it forbids elsewhere."""
    found = [
        v
        for path in OWNER.rglob("*.py")
        for v in violations(path.read_text(encoding="utf-8"), path.name)
    ]
    assert any("assigns doc.status" in v for v in found)
    assert any("history row" in v for v in found)
