"""The programme around a team's loop (the Copenhagen model's *forløb*): a team's course of
three dialogue meetings after a kick-off, and the leadership team of a site.

A course's progress is never stored: ``storage/programme.py`` computes it from the
meetings' agendas and minutes and from the team's trial actions. Only the plan is a row:
which meeting of the team is dialogue meeting 1, 2 or 3, and what each should hold.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models.base import utc_column

MEETINGS_PER_COURSE = 3


class CourseStatus(StrEnum):
    """A course runs until its third dialogue meeting is held, or the lead stops it."""

    RUNNING = "running"
    ENDED = "ended"
    STOPPED = "stopped"


class TrialPlan(StrEnum):
    """What a dialogue meeting should do about a trial action."""

    NONE = "none"
    AGREE = "agree"
    EVALUATE = "evaluate"


# A team's course (forløb): the kick-off day, then three dialogue meetings. A team has at
# most one running course: ``running_team_id`` is the team while it runs, NULL after.
class Course(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    running_team_id: int | None = Field(default=None, foreign_key="team.id", unique=True)
    kickoff_on: date
    status: str = Field(default=CourseStatus.RUNNING, max_length=10)
    # The lead (or an administrator who is a member) who started it; None for an
    # administrator without a membership.
    started_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = utc_column()
    ended_at: datetime | None = utc_column(nullable=True)


# One of a course's three dialogue meetings: which meeting of the team it is (planned with
# /meeting's machinery; None until planned) and what it should hold.
class CourseMeeting(SQLModel, table=True):
    __tablename__ = "course_meeting"
    __table_args__ = (
        UniqueConstraint("course_id", "number", name="uq_course_meeting_course_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    course_id: int = Field(foreign_key="course.id", index=True)
    # 1 to MEETINGS_PER_COURSE.
    number: int
    occurrence_id: int | None = Field(
        default=None, foreign_key="meeting_occurrence.id", unique=True
    )
    holds_case: bool = True
    holds_dilemma: bool = True
    trial: str = Field(default=TrialPlan.AGREE, max_length=10)


# The leadership team of a site (lederteamet): an ordinary team of the site whose members
# are the site's leads, so it proposes, votes, tries and evaluates as every team does.
class LeadershipTeam(SQLModel, table=True):
    __tablename__ = "leadership_team"

    site_id: int = Field(foreign_key="site.id", primary_key=True)
    team_id: int = Field(foreign_key="team.id", unique=True)
    created_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = utc_column()
