"""What a store may make seiscreen run: nothing outside seiscreen's and jobflow's own document classes.

jobflow decodes what it reads back (a job's inputs resolved from earlier outputs, ``load=True`` queries) with
monty's ``MontyDecoder``, which imports the module a document names in ``@module`` and calls the class or function
named beside it. A store folder from someone else, a shared group store or a results file could so make
``seiscreen run`` import and call any installed code. Every document a seiscreen store hands out is checked first
(``store_collections.TrustedJobStore``; ``store_read.FolderJobs``, which reads a folder without jobflow): one that
names code outside :data:`ALLOWED_PACKAGES`, or any function (``@callable``), is refused with one line before
anything decodes it. So is a store folder whose
``.monty.storage`` names a storage engine other than montydb's own: montydb imports the module it names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from seiscreen.errors import SeiscreenError

# montydb's own storage engines: a store folder names its engine in ``.monty.storage``, and montydb imports the
# module of that name, any module when it is none of these.
MONTYDB_ENGINES = ("sqlite", "flatfile", "lightning")
# The packages whose classes stored documents name: seiscreen's documents (seiscreen.schemas) and jobflow's job
# documents and output references (jobflow.core.schemas, jobflow.core.reference). Structures are ASE's own JSON,
# which names no class, so ASE and pymatgen are not needed; numpy, datetime, monty and the rest never appear.
ALLOWED_PACKAGES = ("seiscreen", "jobflow")


def foreign_code(value: Any) -> str | None:
    """The first thing in a stored document that would make a decoder import or call code outside
    :data:`ALLOWED_PACKAGES` (``"@module 'os'"``, ``"@callable 'system'"``), or None when there is none."""
    pending = [value]
    while pending:  # a loop, not recursion: a document nested deep enough must not stop the check itself
        node = pending.pop()
        if isinstance(node, dict):
            if "@callable" in node or "@bound" in node:
                return f"@callable {str(node.get('@callable'))[:80]!r}"
            module = node.get("@module", "")
            # "": jobflow's references to big data name no class (monty decodes nothing from them)
            if not isinstance(module, str) or module and module.split(".")[0] not in ALLOWED_PACKAGES:
                return f"@module {str(module)[:80]!r}"
            pending.extend(v for v in node.values() if isinstance(v, (dict, list, tuple)))
        elif isinstance(node, (list, tuple)):
            pending.extend(v for v in node if isinstance(v, (dict, list, tuple)))
    return None


def refuse_foreign_code(doc: dict) -> None:
    """Raise SeiscreenError, in one line, when the stored document ``doc`` names code outside the allowed packages."""
    found = foreign_code(doc)
    if found is not None:
        where = f"job {doc.get('uuid')}" if isinstance(doc, dict) and doc.get("uuid") else "a document"
        raise SeiscreenError(f"the store holds a document ({where}) that names code outside "
                             f"{' and '.join(ALLOWED_PACKAGES)} ({found}): refused, reading it could run that code; "
                             "remove that job from the store, or use a store you trust")


def refuse_foreign_engine(folder: str | os.PathLike | None) -> None:
    """Raise SeiscreenError, in one line, when the store folder ``folder`` names a storage engine other than
    montydb's own (:data:`MONTYDB_ENGINES`) in its ``.monty.storage``: montydb would import it on connecting."""
    marker = Path(folder) / ".monty.storage" if folder and folder != ":memory:" else None
    if marker is None or not marker.is_file():
        return
    with marker.open(encoding="utf-8", errors="replace") as handle:
        engine = handle.readline(200).strip()  # what montydb reads: the first line
    if engine not in MONTYDB_ENGINES:
        raise SeiscreenError(f"the store folder {folder} names the storage engine {engine[:80]!r} in {marker.name}, "
                             f"not one of montydb's ({', '.join(MONTYDB_ENGINES)}): refused, opening it would import "
                             "that module; use a store you trust")
