"""`skillstack corrections list|show ID|delete ID|disable ID|enable ID|export FILE|import FILE|sync`: manage stored
corrections, in a file or on the fleet's PostgreSQL server (`--db postgresql://...`); `sync` syncs this robot's
file with the fleet server once."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from planners.corrections.memory.record import KINDS
from skill_stack_apps.commands import EXIT_FAILED, EXIT_OK, error

#: an import file larger than this is refused before reading (corrections are small)
MAX_IMPORT_BYTES = 50 * 1024 * 1024


def register(sub: argparse._SubParsersAction) -> None:
    corrections = sub.add_parser("corrections", help="list, show, delete, disable, enable, export or import stored "
                                  "corrections")
    corrections.add_argument("--db", help="correction store: a file or a postgresql://user@host:port/db URL "
                             "(default: $SKILL_STACK_MEMORY, else $SKILL_STACK_DATA/corrections.db)")
    actions = corrections.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="all stored corrections, oldest first")
    listing.add_argument("--kind", choices=KINDS, help="plan rules, skill parameters or taught tasks")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    show = actions.add_parser("show", help="one correction in full (JSON)")
    show.add_argument("id", type=int)
    delete = actions.add_parser("delete", help="delete one correction")
    delete.add_argument("id", type=int)
    for name, what in (("disable", "keep one correction but never apply it"), ("enable", "apply it again")):
        actions.add_parser(name, help=what).add_argument("id", type=int)
    export = actions.add_parser("export", help="write every correction to a JSON Lines file ('-': stdout)")
    export.add_argument("file")
    imp = actions.add_parser("import", help="add corrections from a JSON Lines file (all or nothing)")
    imp.add_argument("file", type=Path)
    sync = actions.add_parser("sync", help="push this robot's new corrections to the fleet server and pull the "
                              "other robots' (once; a robot with SKILL_STACK_MEMORY set also syncs by itself)")
    sync.add_argument("--server", help="the fleet store, postgresql://user@host:port/db (default: $SKILL_STACK_MEMORY)")
    corrections.set_defaults(handler=cmd_corrections)


def _summary(record) -> str:
    if record.kind == "skill":
        what = f"{record.skill or '*'}.{record.parameter} {record.mode} {record.value}"
        if not record.applicable:
            what += " (recorded only)"
    elif record.kind == "task":
        what = f"task '{record.rule.args['phrase']}' = {record.rule.args['steps']}"
    else:
        what = f"rule {record.rule.type}"
    obj = f" [{record.object.describe()}]" if record.object is not None else ""
    off = " (disabled)" if record.disabled else ""
    return f"{record.id:>5}  {record.created_at[:19]}  {record.source:<11} {what}{obj}  \"{record.text[:60]}\"{off}"


def _read_import(path: Path) -> list:
    """Every line validated before anything is stored; raises ValueError naming the bad line."""
    from planners.corrections.memory.record import CorrectionRecord, RecordError

    if path.stat().st_size > MAX_IMPORT_BYTES:
        raise ValueError(f"{path} is larger than {MAX_IMPORT_BYTES // 2**20} MB")
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text "
                         "(expected JSON Lines from `skillstack corrections export`)") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(CorrectionRecord.from_dict(json.loads(line)))
        except (ValueError, RecordError) as err:
            raise ValueError(f"{path}:{number}: not a correction record ({err})") from None
    return records


def cmd_sync(args: argparse.Namespace) -> int:
    """One sync of this robot's file (--db, else the default file) with the fleet server."""
    from planners.corrections.memory.sqlite import SqliteStore
    from planners.corrections.memory.store import MEMORY_ENV, StoreError, is_server_url, redact
    from planners.corrections.memory.sync import FleetSync, SyncOutcome

    server = args.server or os.environ.get(MEMORY_ENV)
    if not is_server_url(server):
        return error(f"no fleet server: give --server postgresql://user@host:port/db or set {MEMORY_ENV}")
    if is_server_url(args.db):
        return error("sync works on this robot's file: give it with --db FILE (or leave --db out), "
                     "the server with --server")
    try:
        local = SqliteStore(args.db)
    except StoreError as err:
        return error(str(err), EXIT_FAILED)
    with local:
        sync = FleetSync(local, str(server))
        report = sync.sync_once()
        sync.stop()
    if report.outcome is SyncOutcome.OFFLINE:
        return error(f"not synced (nothing lost; run it again when the server is reachable): {report.error}",
                     EXIT_FAILED)
    print(f"synced {local.path} with {redact(str(server))}: pushed {report.pushed}, deleted {report.deleted}, "
          f"pulled {report.pulled} change(s) ({report.applied} new here)")
    return EXIT_OK


def cmd_corrections(args: argparse.Namespace) -> int:
    from planners.corrections.memory.store import CorrectionStore, StoreError

    if args.action == "sync":
        return cmd_sync(args)
    try:
        store = CorrectionStore(args.db)
    except StoreError as err:
        return error(str(err), EXIT_FAILED)
    with store:
        if args.action == "list":
            records = store.all(args.kind)
            for record in records:
                print(json.dumps(record.to_dict()) if args.json else _summary(record))
            if not args.json:
                print(f"{len(records)} correction(s) in {store.location}")
        elif args.action == "show":
            found = store.get(args.id)
            if found is None:
                return error(f"no correction {args.id} in {store.location}; see `skillstack corrections list`")
            print(json.dumps(found.to_dict(), indent=2))
        elif args.action == "delete":
            if not store.delete(args.id):
                return error(f"no correction {args.id} in {store.location}")
            print(f"deleted correction {args.id}")
        elif args.action in ("disable", "enable"):
            if not store.set_disabled(args.id, args.action == "disable"):
                return error(f"no correction {args.id} in {store.location}")
            print(f"{args.action}d correction {args.id}")
        elif args.action == "export":
            lines = "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in store.all())
            if args.file == "-":
                sys.stdout.write(lines)
            else:
                try:
                    Path(args.file).write_text(lines, encoding="utf-8")
                except OSError as err:
                    return error(f"cannot write {args.file}: {err}", EXIT_FAILED)
                print(f"exported {len(lines.splitlines())} correction(s) to {args.file}")
        else:
            try:
                records = _read_import(args.file)
            except OSError as err:
                return error(f"cannot read {args.file}: {err.strerror or err}")
            except ValueError as err:
                return error(str(err))
            before = len(store)
            store.add_many([r for r in records])
            added = len(store) - before
            print(f"imported {added} correction(s) from {args.file}"
                  + (f" ({len(records) - added} already stored)" if len(records) > added else ""))
    return EXIT_OK
