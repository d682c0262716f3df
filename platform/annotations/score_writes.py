"""The frame-score bulk write path under services.frame_scores_write (which decides; these read and write):
the rows it returns, the set-based statements for PostgreSQL and the ORM path for SQLite.

A 100-label bulk save through the ORM cost ~35 ms of CPU (model instances, a query compiled per group,
history rows built and dumped one by one). Here it is two statements whose text never changes (psycopg
caches their conversion): one read of the frames and their labels, and one write that updates the
labels whose version still matches, inserts the new ones (ON CONFLICT DO NOTHING: a concurrent first
save wins, this one sees it missing), and records the history of both, old and new values built by the
database. Arrays travel as one text literal each (the ids are validated ints), not as per-element
adapted lists. SQLite (the embedded demo) takes the ORM path below: the same rows, versions and history.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction

from accounts.models import User
from studies.models import Frame, Video

from .models import FrameScore, LabelAction, LabelChange, VideoScore


class FrameScoreRow(NamedTuple):
    """A frame score as the write path returns it: the fields of FrameScore without a model instance
    (building 100 of those, with their init signals, cost more than the statements)."""

    pk: int
    frame_id: int
    annotator_id: int
    score: int
    validation_level: int
    source: str
    version: int
    created_at: datetime
    updated_at: datetime


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SCORES, _HISTORY = FrameScore._meta.db_table, LabelChange._meta.db_table
_FRAMES = FrameScore._meta.get_field("frame").related_model._meta.db_table  # type: ignore[union-attr]

# What score_value() gives in Python: {id, score, version, validation_level, updated_at (isoformat)}.
_ISO = ("to_char({t} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN date_part('microseconds', {t})"
        "::int %% 1000000 = 0 THEN '' ELSE to_char({t} AT TIME ZONE 'UTC', '.US') END || '+00:00'")
_VALUE = ("jsonb_build_object('id', {p}id, 'score', {p}score, 'version', {p}version, 'validation_level', "
          "{p}validation_level, 'updated_at', {updated})")
# Timestamps travel as integer microseconds since the epoch: exact, and no per-value datetime parsing.
_MICROS = "(extract(epoch FROM s.{column}) * 1000000)::bigint"

# With a lock key, the read first takes that advisory lock (held to the end of the transaction). The rows
# are those of the statement's snapshot, taken before any wait: a save that waited sees what it was
# made against, and the write statement finds what changed meanwhile.
STATES_SQL = f"""
SELECT f.id, s.id, s.score, s.validation_level, s.source, s.version, {_MICROS.format(column="created_at")},
       {_MICROS.format(column="updated_at")}
FROM (SELECT CASE WHEN %(lock)s::bigint IS NULL THEN NULL ELSE pg_advisory_xact_lock(%(lock)s::bigint) END) AS l,
     {_FRAMES} f LEFT JOIN {_SCORES} s ON s.frame_id = f.id AND s.annotator_id = %(user)s
WHERE f.video_id = %(video)s AND f.id = ANY(%(frames)s::bigint[])
"""

WRITE_SQL = f"""
WITH updated AS (
    UPDATE {_SCORES} AS s
    SET score = u.score, validation_level = %(level)s, version = s.version + 1, updated_at = %(now)s
    FROM unnest(%(ids)s::bigint[], %(versions)s::integer[], %(scores)s::smallint[]) AS u(id, version, score),
         {_SCORES} AS old
    WHERE s.id = u.id AND s.version = u.version AND s.annotator_id = %(user)s AND old.id = u.id
    RETURNING s.id, s.frame_id, s.annotator_id, s.score, s.validation_level, s.version,
              {_VALUE.format(p="old.", updated=_ISO.format(t="old.updated_at"))} AS old_value
), created AS (
    INSERT INTO {_SCORES} (frame_id, annotator_id, score, validation_level, source, version, created_at, updated_at)
    SELECT n.frame_id, %(user)s, n.score, %(level)s, %(source)s, 1, %(now)s, %(now)s
    FROM unnest(%(frames)s::bigint[], %(new_scores)s::smallint[]) AS n(frame_id, score)
    ON CONFLICT (frame_id, annotator_id) DO NOTHING
    RETURNING id, frame_id, annotator_id, score, validation_level, version
), history AS (
    INSERT INTO {_HISTORY} (label_type, label_id, frame_id, video_id, owner_id, changed_by_id, action, version,
                            old_value, new_value, changed_at)
    SELECT 'frame_score', id, frame_id, %(video)s, annotator_id, %(user)s, '{LabelAction.UPDATE.value}', version,
           old_value, {_VALUE.format(p="", updated="%(now_iso)s")}, %(now)s FROM updated
    UNION ALL
    SELECT 'frame_score', id, frame_id, %(video)s, annotator_id, %(user)s, '{LabelAction.CREATE.value}', version,
           NULL, {_VALUE.format(p="", updated="%(now_iso)s")}, %(now)s FROM created
)
SELECT id, frame_id, score, version FROM updated UNION ALL SELECT id, frame_id, score, version FROM created
"""


def int_array(values: Iterable[int]) -> str:
    """A PostgreSQL array literal of ints (validated ints only: this is spliced into a parameter)."""
    return "{" + ",".join(map(str, values)) + "}"


def advisory_key(scope: str, *ids: int) -> int:
    """The PostgreSQL advisory lock key of one person's writes of a kind on one video or frame."""
    digest = hashlib.blake2b(f"{scope}:{':'.join(map(str, ids))}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def frame_score_states(*, video_id: int, user_id: int, frame_ids: Iterable[int],
                       lock: bool = False) -> dict[int, FrameScoreRow | None]:
    """{frame id: the user's label or None} for those of `frame_ids` that are frames of the video; with
    `lock`, after taking the user's frame-score lock on the video (see STATES_SQL)."""
    key = advisory_key("frame_scores", video_id, user_id) if lock else None
    with connection.cursor() as cursor:
        cursor.execute(STATES_SQL, {"user": user_id, "video": video_id, "frames": int_array(frame_ids), "lock": key})
        rows = cursor.fetchall()
    return {frame: None if pk is None else FrameScoreRow(
        pk, frame, user_id, score, level, source, version, EPOCH + timedelta(microseconds=created),
        EPOCH + timedelta(microseconds=updated)) for frame, pk, score, level, source, version, created, updated in rows}


def frame_scores_apply(*, video: Video, user: User, source: str, now: datetime,
                       updates: Sequence[tuple[int, int, int]], inserts: Sequence[tuple[int, int]],
                       states: Mapping[int, FrameScoreRow | None]) -> list[FrameScoreRow]:
    """Update (label id, expected version, score) and insert (frame id, score) of `states` (what
    frame_score_states read), history included, in one statement; returns the rows written. A label
    whose version moved, or a first label someone else inserted meanwhile, is simply not among them
    (the caller reports it)."""
    level = user.validation_level
    params: dict[str, int | str | datetime] = {
        "user": user.pk, "video": video.pk, "level": level, "source": source, "now": now, "now_iso": now.isoformat(),
        "ids": int_array(u[0] for u in updates), "versions": int_array(u[1] for u in updates),
        "scores": int_array(u[2] for u in updates), "frames": int_array(i[0] for i in inserts),
        "new_scores": int_array(i[1] for i in inserts)}
    with connection.cursor() as cursor:
        cursor.execute(WRITE_SQL, params)
        rows = cursor.fetchall()
    return [FrameScoreRow(pk, frame, user.pk, score, level, source, 1, now, now) if version == 1  # inserted
            else states[frame]._replace(score=score, validation_level=level, version=version,  # type: ignore[union-attr]
                                        updated_at=now)
            for pk, frame, score, version in rows]


def score_value(label: FrameScore | VideoScore | FrameScoreRow) -> dict[str, Any]:
    """A score label as history and conflict reports record it (WRITE_SQL builds the same in SQL)."""
    return {"id": label.pk, "score": label.score, "version": label.version,
            "validation_level": label.validation_level, "updated_at": label.updated_at.isoformat()}


def frame_score_row(label: FrameScore) -> FrameScoreRow:
    return FrameScoreRow(label.pk, label.frame_id, label.annotator_id, label.score, label.validation_level,
                         label.source, label.version, label.created_at, label.updated_at)


def frame_score_states_orm(video: Video, user: User, frame_ids: list[int]) -> dict[int, FrameScoreRow | None]:
    """frame_score_states through the ORM (SQLite, the embedded demo)."""
    frames = Frame.objects.filter(video=video, id__in=frame_ids).values_list("id", flat=True)
    states: dict[int, FrameScoreRow | None] = dict.fromkeys(frames)
    states.update((row.frame_id, frame_score_row(row))
                  for row in FrameScore.objects.filter(annotator=user, frame_id__in=list(states)))
    return states


def _history(label: FrameScoreRow | FrameScore, *, video: Video, user: User, action: str, old: dict | None,
             new: dict) -> LabelChange:
    return LabelChange(label_type="frame_score", label_id=label.pk, frame_id=label.frame_id, video_id=video.pk,
                       owner_id=label.annotator_id, changed_by=user, action=action, version=label.version,
                       old_value=old, new_value=new)


def frame_scores_apply_orm(*, video: Video, user: User, source: str, now: datetime,
                           updates: Sequence[tuple[int, int, int]], inserts: Sequence[tuple[int, int]],
                           states: Mapping[int, FrameScoreRow | None]) -> list[FrameScoreRow]:
    """frame_scores_apply through the ORM (SQLite): the same rows written and recorded; returns them."""
    level, by_id = user.validation_level, {row.pk: row for row in states.values() if row is not None}
    written, history = [], []
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for label_id, version, score in updates:
        groups[(score, version)].append(label_id)
    for (score, version), ids in groups.items():
        done = list(FrameScore.objects.filter(pk__in=ids, version=version, annotator=user).values_list("pk", flat=True))
        FrameScore.objects.filter(pk__in=done).update(score=score, validation_level=level, version=version + 1,
                                                      updated_at=now)
        for label_id in done:
            old = by_id[label_id]
            new = old._replace(score=score, validation_level=level, version=version + 1, updated_at=now)
            written.append(new)
            history.append(_history(new, video=video, user=user, action=LabelAction.UPDATE, old=score_value(old),
                                    new=score_value(new)))
    created = [FrameScore(frame_id=frame_id, annotator=user, score=score, validation_level=level, source=source)
               for frame_id, score in inserts]
    try:
        with transaction.atomic():
            FrameScore.objects.bulk_create(created)
    except IntegrityError:  # a concurrent first save won: every insert is reported as conflicting
        created = []
    written += [frame_score_row(row) for row in created]
    history += [_history(row, video=video, user=user, action=LabelAction.CREATE, old=None, new=score_value(row))
                for row in created]
    LabelChange.objects.bulk_create(history)
    return written
