"""The tables, one module per aggregate; this package is the public schema, so every table,
enum and limit is imported from here: ``from storage.models import Note``.

- ``team``: sites, teams, members, memberships, invitations, residents, the audit log.
- ``moments``: micro-moments and their quality compass markers.
- ``runtime``: conversation state, timed prompts, processed updates.
- ``meetings``: meeting series and occurrences, agenda points and exclusions, minutes.
- ``loop``: cases, decisions, proposals, votes, trial actions, check-ins, team chats.
- ``rhythm``: member preferences, absences, the monthly focus.
- ``safety``: the pulse and care dilemmas.
- ``programme``: a team's course of dialogue meetings, a site's leadership team.
- ``base``: the constraint naming convention and the UTC timestamp column they share.

Each class is one table; the comment above it says what a row is. Importing this package
registers every table on ``SQLModel.metadata`` (Alembic's ``env.py`` relies on it).

Every timestamp is stored in UTC (``UTCDateTime``); Telegram ids are 64-bit.
Residents are known only by an alias the team chooses, never by CPR number.
"""

from storage.models.loop import (
    CHECKIN_NOTE_MAX_LENGTH,
    DECISION_TITLE_MAX_LENGTH,
    PROPOSAL_MAX_LENGTH,
    CaseAnswer,
    CaseCloseReason,
    CaseKind,
    CaseMoment,
    CasePerspective,
    Checkin,
    CheckinAnswer,
    Decision,
    DecisionOrigin,
    DecisionStatus,
    Outcome,
    Proposal,
    ResidentCase,
    TeamChat,
    TrialAction,
    Vote,
)
from storage.models.meetings import (
    AGENDA_POINT_MAX_LENGTH,
    PLACE_MAX_LENGTH,
    AgendaExclusion,
    AgendaPoint,
    MeetingMinutes,
    MeetingOccurrence,
    MeetingSeries,
    OccurrenceStatus,
    Repetition,
)
from storage.models.moments import (
    NOTE_MAX_LENGTH,
    Expression,
    Marker,
    Note,
    NoteMarker,
    Shift,
)
from storage.models.programme import (
    MEETINGS_PER_COURSE,
    Course,
    CourseMeeting,
    CourseStatus,
    LeadershipTeam,
    TrialPlan,
)
from storage.models.rhythm import (
    FOCUS_MAX_LENGTH,
    Absence,
    AbsenceKind,
    MemberPreference,
    MonthlyFocus,
)
from storage.models.runtime import (
    Conversation,
    ProcessedUpdate,
    Prompt,
    PromptStatus,
)
from storage.models.safety import (
    DILEMMA_MAX_LENGTH,
    Dilemma,
    Pulse,
    PulseParticipation,
    PulseRepeat,
    PulseSiteSetting,
    PulseTally,
)
from storage.models.team import (
    ALIAS_MAX_LENGTH,
    DEFAULT_DAY_START,
    DEFAULT_EVENING_START,
    DEFAULT_NIGHT_START,
    DEFAULT_RETENTION_DAYS,
    NAME_MAX_LENGTH,
    AuditEntry,
    Invite,
    Member,
    Membership,
    Resident,
    Role,
    Site,
    SiteKind,
    Team,
)

__all__ = [
    "ALIAS_MAX_LENGTH",
    "NAME_MAX_LENGTH",
    "DEFAULT_RETENTION_DAYS",
    "DEFAULT_DAY_START",
    "DEFAULT_EVENING_START",
    "DEFAULT_NIGHT_START",
    "Role",
    "SiteKind",
    "Site",
    "Team",
    "Member",
    "Membership",
    "Invite",
    "Resident",
    "AuditEntry",
    "NOTE_MAX_LENGTH",
    "Shift",
    "Expression",
    "Marker",
    "Note",
    "NoteMarker",
    "Conversation",
    "PromptStatus",
    "Prompt",
    "ProcessedUpdate",
    "PLACE_MAX_LENGTH",
    "Repetition",
    "OccurrenceStatus",
    "MeetingSeries",
    "MeetingOccurrence",
    "AGENDA_POINT_MAX_LENGTH",
    "AgendaPoint",
    "AgendaExclusion",
    "MeetingMinutes",
    "CaseKind",
    "CaseCloseReason",
    "ResidentCase",
    "CaseAnswer",
    "CaseMoment",
    "CasePerspective",
    "PROPOSAL_MAX_LENGTH",
    "CHECKIN_NOTE_MAX_LENGTH",
    "DECISION_TITLE_MAX_LENGTH",
    "DecisionStatus",
    "DecisionOrigin",
    "Outcome",
    "CheckinAnswer",
    "Decision",
    "Proposal",
    "Vote",
    "TrialAction",
    "Checkin",
    "TeamChat",
    "FOCUS_MAX_LENGTH",
    "AbsenceKind",
    "MemberPreference",
    "Absence",
    "MonthlyFocus",
    "DILEMMA_MAX_LENGTH",
    "PulseRepeat",
    "Pulse",
    "PulseParticipation",
    "PulseTally",
    "PulseSiteSetting",
    "Dilemma",
    "MEETINGS_PER_COURSE",
    "CourseStatus",
    "TrialPlan",
    "Course",
    "CourseMeeting",
    "LeadershipTeam",
]
