"""Documents about projects only (项目支出绩效自评表 / 项目自评报告): whether a document is one, and the
project it is about when no score table names it.

In such a document the budget block and the total score are the project's (spec: `projects`, with
`self_score` null), so an engine that read them as facts files them under the project instead.

Hand-written because it is this genre's vocabulary (its titles, its 项目名称 label, a project's name in
brackets after the report's title); no library knows it. Pure functions on the document's text.
"""

from __future__ import annotations

import re

from service.core.candidates import Candidate
from service.core.genre import plain, simplified, unglossed
from service.fields import BY_KEY
from service.models import DEPARTMENT_TABLE, REVIEW, Project

_DEPARTMENT_DOC = re.compile(r"部门整体|整体支出|单位整体|部门绩效自评|整体绩效")
_DEPARTMENT_HEAD = 3000
# the title region of a document about a project: its title, 项目名称, or a named fund's evaluation
_PROJECT_DOC = re.compile(r"项目支出绩效|项目绩效|项目自评|项目支出自评|支出项目绩效|项目名称|资金绩效|转移支付|专项资金")
_PROJECT_HEAD = 800
# the report's title, then the project in brackets: …项目支出绩效自评报告(2022年公共图书馆…补助经费)
_TITLE_THEN_NAME = re.compile(r"(?:项目支出|项目)?绩效(?:自评|评价)(?:报告|表)\s*[(（]")
# UNIT 2024年度 NAME 绩效评价表: the fund between the year and the title's ending
_NAME_IN_TITLE = re.compile(r"20\d\d\s*年度?(?P<name>[^\n，。,:：|()（）]{2,40}?)(?:项目)?(?:支出)?绩效(?:自评|评价)(?:报告|表)")
_NAME_LABEL = re.compile(r"项目(?:支出)?名称\s*[:：|\t ]\s*(?P<name>[^|\t\n]{2,60}?)\s*(?=[|\t\n]|\s{2}|主管部门|实施单位|项目单位|$)")
_GENERIC = re.compile(r"^(?:20\d\d\s*年度?)?(?:项目|项目支出|财政支出项目|财政支出|部门|整体|单位)?$|部门整体|自评|得分|总分|主管|单\s*位")


def is_department_document(text: str, table_names) -> bool:
    """A department's (部门整体) report: its 整体 table, or its head says so."""
    if DEPARTMENT_TABLE in set(table_names):
        return True
    return bool(_DEPARTMENT_DOC.search(simplified(text[:_DEPARTMENT_HEAD])))


def is_project_document(text: str, table_names) -> bool:
    """A document about projects only: not a department's report, and its tables or its title region are
    about a project. A document that says neither is not taken for one (its facts stay the department's)."""
    names = set(table_names)
    if is_department_document(text, names):
        return False
    return bool(names - {DEPARTMENT_TABLE}) or bool(_PROJECT_DOC.search(plain(text[:_PROJECT_HEAD])))


def project_name(text: str) -> str | None:
    """The project a project-only document is about, as its head names it: its 项目名称 cell, the name in
    brackets after the title, or the fund between the title's year and its ending; None when none does."""
    printed = unglossed(text[:_PROJECT_HEAD * 2])
    head = simplified(printed)  # matched simplified, the name cut from the characters as printed
    for span in (_labelled(head), _bracketed(head), _titled(head)):
        found = printed[span[0]:span[1]].strip() if span else None
        if found and not _GENERIC.search(head[span[0]:span[1]].strip()):
            return found
    return None


def _labelled(head: str) -> tuple[int, int] | None:
    m = _NAME_LABEL.search(head)
    return m.span("name") if m else None


def _bracketed(head: str) -> tuple[int, int] | None:
    m = _TITLE_THEN_NAME.search(head)
    if m is None:
        return None
    depth = 1
    for i in range(m.end(), min(len(head), m.end() + 80)):
        ch = head[i]
        if ch in "(（":
            depth += 1
        elif ch in ")）":
            depth -= 1
            if depth == 0:
                return (m.end(), i) if i > m.end() else None
        elif ch == "\n":
            return None
    return None


def _titled(head: str) -> tuple[int, int] | None:
    m = _NAME_IN_TITLE.search(head)
    return m.span("name") if m else None


# a fact of a department's report -> the attribute of a project it is in a project-only document
PROJECT_ATTRS = {"self_score": "score", "budget_initial": "budget_initial", "budget_full_year": "budget_full_year",
                 "spending_actual": "spending_actual", "execution_rate": "execution_rate"}
UNNAMED = "（材料未写明项目名称）"


def file_under_project(text: str, cands: list[Candidate], projects: list[Project]) -> list[Candidate]:
    """A project-only document's budget block and total, read as facts, filed under its project (in place in
    `projects`); the candidates left are returned. With one project (its table's) a fact fills what the
    table left empty, and one that differs sends the project to review; with none, the project is the one the
    document's head names, in review when it names none or a value was read two ways. With several projects a
    fact stays a field, in review: whose it is the reviewer decides."""
    mine = [c for c in cands if c.field in PROJECT_ATTRS and c.value is not None]
    if not mine:
        return cands
    rest = [c for c in cands if c not in mine]
    if len(projects) > 1:
        doubt = "这是项目支出自评材料，该数可能是某个项目的，不是部门整体的，请核对"
        return rest + [_doubted(c, doubt) for c in mine
                       if not any(getattr(p, PROJECT_ATTRS[c.field]) == c.value for p in projects)]
    if not projects:
        name = project_name(text)
        projects.append(Project(name=name or UNNAMED, evidence=mine[0].evidence))
        if name is None:
            projects[0].status = REVIEW
            projects[0].issues.append("材料看来是项目支出自评，但没有读出项目名称，请填写；"
                                      "若这其实是部门整体报告，这些数应是部门的，请在部门字段中填写")
    project = projects[0]
    for c in mine:
        attr = PROJECT_ATTRS[c.field]
        have = getattr(project, attr)
        if have is None:
            setattr(project, attr, c.value)
            project.evidence = project.evidence or c.evidence
            if c.issue:
                project.status = REVIEW
                project.issues.append(c.issue)
        elif have != c.value:
            project.status = REVIEW
            project.issues.append(f"材料另一处写{BY_KEY[c.field].zh} {c.value}（“{c.evidence.quote[:30]}”），与 {have} 不一致")
    return rest


def _doubted(c: Candidate, doubt: str) -> Candidate:
    return Candidate(c.field, c.value, c.evidence, c.tier, c.source, c.note, issue=c.issue or doubt, year=c.year)

