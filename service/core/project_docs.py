"""Documents about projects only (项目支出绩效自评表 / 项目自评报告): whether a document is one, and the
project it is about when no score table names it.

In such a document the budget block and the total score are the project's (spec: `projects`, with
`self_score` null), so an engine that read them as facts files them under the project instead.

Hand-written because it is this genre's vocabulary (its titles, its 项目名称 label, a project's name in
brackets after the report's title); no library knows it. Pure functions on the document's text.
"""

from __future__ import annotations

import re
from dataclasses import replace

from service.core.candidates import Candidate
from service.core.genre import is_furniture, plain, simplified, unglossed
from service.core.score_tables import PROJECT_CELL
from service.fields import BY_KEY
from service.models import DEPARTMENT_TABLE, REVIEW, Project

_DEPARTMENT_DOC = re.compile(
    r"部门整体|整体支出|单位整体|整体绩效|部门绩效自评"
    r"|(?:部门|单位)(?:\(单位\))?(?:预算|决算|财政支出)?(?:支出)?绩效(?:自评|评价)(?:报告|工作|情况)"
    r"|部门(?:\(单位\))?(?:基本)?概况|部门基本情况|(?<!项目)单位基本情况|部门(?:预算|决算)执行")
_DEPARTMENT_HEAD = 3000
# two title characters genre.TRADITIONAL lacks (部門整體支出績效); kept here so that the extractors' matching,
# which uses that map, is not changed by the department test
_TITLE_TRADITIONAL = str.maketrans({"體": "体", "績": "绩"})
# a title that says it is about a project (项目支出绩效自评表), or a named fund's evaluation
_PROJECT_TITLE = re.compile(r"项目支出绩效|项目绩效|项目自评|项目支出自评|支出项目绩效|财政支出项目|项目名称"
                            r"|(?:资金|转移支付|专项|经费)[^。，,]{0,6}绩效(?:自评|评价)(?:报告|表)")
_TITLE_LINES = 4  # the first lines of the document that are not page furniture
_TITLE_THEN_NAME = re.compile(r"(?:项目支出|项目)?绩效(?:自评|评价)(?:报告|表)[ \t]*[(（]")  # …报告(NAME)
# UNIT 2024年度 NAME 绩效评价表: the fund between the year and the title's ending
_NAME_IN_TITLE = re.compile(r"20\d\d\s*年度?(?P<name>[^\n，。,:：|()（）]{2,40}?)(?:项目)?(?:支出)?绩效(?:自评|评价)(?:报告|表)")
# what is not a project's name: the title's own words, a header cell, a draft's or a batch's mark
_NOT_A_NAME = re.compile(r"^(?:20\d\d\s*年度?)?(?:项目|项目支出|财政支出项目|财政支出|部门|整体|单位|年度)?$"
                         r"|部门整体|自评|得分|总分|主管|单\s*位|盖章|稿|草案|版$|附表|附件|简称|^见|^第.{1,3}批$"
                         r"|^[一二三四五六七八九十\d]+$|\d+\s*月|共\d+个"
                         r"|^(?:本级|省级|市级|县级|区级|中央|部门预算|专项资金|市级专项资金|县级专项资金)$"
                         r"|(?:数|类型|负责人|来源|目标|情况|电话|属性|部门|单位)$")


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", plain(text).translate(_TITLE_TRADITIONAL))


def is_department_document(text: str, table_names) -> bool:
    """A department's (部门整体) report: its 整体 table, or its head says so (spaced-out and traditional
    titles too: 部 门 整 体, 部門整體)."""
    if DEPARTMENT_TABLE in set(table_names):
        return True
    return bool(_DEPARTMENT_DOC.search(_squeezed(text[:_DEPARTMENT_HEAD])))


def title_lines(text: str) -> list[str]:
    """The document's first lines that are not page furniture (banners, 索引号 blocks, breadcrumbs)."""
    out = []
    for line in text[:3000].split("\n"):
        if re.search(r"[\u4e00-\u9fff]", line) and not is_furniture(line) and not re.match(r"\s*[•·●]", line):
            out.append(line)
        if len(out) == _TITLE_LINES:
            break
    return out


def project_signal(text: str, table_names) -> str | None:
    """Why a document is about projects only: "title" (its title says so), "tables" (only its score tables
    are projects'), or None (a department's report, or one that says neither: its facts stay the
    department's)."""
    names = set(table_names)
    if is_department_document(text, names):
        return None
    if _PROJECT_TITLE.search(_squeezed("\n".join(title_lines(text)))):
        return "title"
    return "tables" if names - {DEPARTMENT_TABLE} else None


def is_project_document(text: str, table_names) -> bool:
    return project_signal(text, table_names) is not None


def project_name(text: str) -> tuple[str, str] | None:
    """The project a project-only document is about, and where it was read ("label" for its 项目名称 cell,
    "title" for the name in brackets after the title or the fund in the title); None when none names it."""
    head = unglossed(text[:_DEPARTMENT_HEAD])
    title = unglossed("\n".join(title_lines(text)))
    for where, found in (("label", _labelled(head)), ("title", _bracketed(title)), ("title", _titled(title))):
        if found and not _NOT_A_NAME.search(simplified(found)):
            return found, where
    return None


def _labelled(head: str) -> str | None:
    """The 项目名称 cell, read as the score tables read it (score_tables.PROJECT_CELL), to its first comma."""
    m = PROJECT_CELL.search(simplified(head))  # simplified character for character: the span is the printed name
    return re.split(r"[，,；;。]", head[m.start("name"):m.end("name")])[0].strip() if m else None


def _bracketed(title: str) -> str | None:
    m = _TITLE_THEN_NAME.search(simplified(title))
    if m is None:
        return None
    depth = 1
    for i in range(m.end(), min(len(title), m.end() + 80)):
        ch = title[i]
        if ch in "(（":
            depth += 1
        elif ch in ")）":
            depth -= 1
            if depth == 0:
                name = re.sub(r"^项目名称\s*[:：]\s*", "", title[m.end():i].strip())
                return name if len(name) >= 4 else None
        elif ch == "\n":
            return None
    return None


def _titled(title: str) -> str | None:
    m = _NAME_IN_TITLE.search(simplified(title))
    return title[m.start("name"):m.end("name")].strip() if m else None


# a fact of a department's report -> the attribute of a project it is in a project-only document
PROJECT_ATTRS = {"self_score": "score", "budget_initial": "budget_initial", "budget_full_year": "budget_full_year",
                 "spending_actual": "spending_actual", "execution_rate": "execution_rate"}
UNNAMED = "（材料未写明项目名称）"


def file_under_project(text: str, cands: list[Candidate], projects: list[Project],
                       signal: str = "title") -> list[Candidate]:
    """A project-only document's budget block and total, read as facts, filed under its project (in place in
    `projects`); the candidates left are returned.

    With one project (its table's) a fact fills what the table left empty, and one that differs sends the
    project to review; with none, the project is the one the document names, in review unless its 项目名称
    cell names it. With several projects a fact read in a table with a project's value is that table's; any
    other stays a field, in review: whose it is the reviewer decides. `signal` "tables" (the document never
    says it is about a project; only its tables are projects') sends whatever is filed to review."""
    mine = [c for c in cands if c.field in PROJECT_ATTRS and c.value is not None]
    if not mine:
        return cands
    rest = [c for c in cands if c not in mine]
    if len(projects) > 1:
        doubt = "这是项目支出自评材料，该数可能是某个项目的，不是部门整体的，请核对"
        return rest + [_doubted(c, doubt) for c in mine
                       if not (c.source == "table"
                               and any(getattr(p, PROJECT_ATTRS[c.field]) == c.value for p in projects))]
    if not projects:
        named = project_name(text)
        project = Project(name=named[0] if named else UNNAMED, evidence=mine[0].evidence)
        projects.append(project)
        if named is None:
            _doubt(project, "材料看来是项目支出自评，但没有读出项目名称，请填写")
        elif named[1] == "title":
            _doubt(project, f"项目名称取自材料标题（“{named[0][:30]}”），请核对")
    project = projects[0]
    filled = False
    for c in mine:
        attr = PROJECT_ATTRS[c.field]
        have = getattr(project, attr)
        if have is None:
            setattr(project, attr, c.value)
            project.evidence = project.evidence or c.evidence
            filled = True
            if c.issue:
                _doubt(project, c.issue)
        elif have != c.value:
            _doubt(project, f"材料另一处写{BY_KEY[c.field].zh} {c.value}（“{c.evidence.quote[:30]}”），与 {have} 不一致")
    if filled and signal == "tables":
        _doubt(project, "材料没有写明是项目支出自评，这些数取自正文；若这是部门整体报告，应是部门的数，请核对")
    return rest


def _doubt(project: Project, issue: str) -> None:
    project.status = REVIEW
    project.issues.append(issue)


def _doubted(c: Candidate, doubt: str) -> Candidate:
    return replace(c, issue=c.issue or doubt)

