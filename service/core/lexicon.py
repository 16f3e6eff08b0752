"""How reports label each fact: the domain knowledge of the rules extractor, as data.

Each field has labels in tiers: tier 1 labels name the fact exactly; tier 2
labels are used only when no tier-1 label is found. `scope` says which
reading a sentence must have for a label to count: "actual" facts are not
read from a sentence about the budget (年初预算安排…), "budget" facts not from
one about final accounts (决算…). Whole-department facts are not read inside a
sentence or section about one part of the spending (基本支出, 人员经费…).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Q = "[“”\"'‘’「」]?"
SANGONG = rf"{Q}三公{Q}\s*经费"


@dataclass(frozen=True)
class Label:
    field: str
    pattern: str
    tier: int = 1
    table_only: bool = False


MONEY_UNITS = ("万元", "万", "元", "亿元")
COUNT_UNITS = ("人", "名", "个", "辆", "台")

PART_WORDS = re.compile(r"基本支出|项目支出|人员经费|公用经费|三公|工资福利|商品和服务|专项|机关运行|项目资金")
BUDGET_WORDS = re.compile(r"年初预算|预算数|预算安排|预算为|批复|年初可用预算|年初")
ACTUAL_WORDS = re.compile(r"决算|执行数|实际|支出合计|总支出|全年(?!预算)")

LABELS: list[Label] = [
    Label("budget_initial", r"年初预算(?:数|安排(?:收入|支出)?|收入|支出)?"),
    Label("budget_full_year", r"全年预算(?:数)?|调整后(?:的)?预算(?:数)?"),
    Label("budget_full_year", r"(?<!拨款)(?<!收入)预算支出", tier=2),  # not 财政拨款预算支出 (a part)
    Label("budget_full_year", r"(?:部门)?预算总金额|(?:部门)?预算总额", tier=2),
    Label("spending_actual", r"全年执行数|决算支出|支出决算(?:金额|数)?|决算总支出|实际支出(?:总额)?"),
    Label("spending_actual", r"全年总支出|支出总额|支出合计", tier=2),
    Label("income_total", r"决算总收入|收入(?:合计|总计|总额)|总收入|本年收入"),
    Label("income_total", r"按收入性质分", table_only=True),
    Label("income_general_budget",
          r"一般公共(?:财政|预算)(?:财政)?拨款(?:收入)?|一般公共预算(?:收入)?|(?<!基金预算)(?<!基金)财政拨款收入"
          r"|公共财政拨款(?:收入)?"),
    Label("income_gov_fund", r"政府性基金(?:预算)?(?:财政)?(?:拨款|收入)?"),
    Label("income_other", r"其他(?:预算)?收入"),
    Label("income_other", r"其他资金", table_only=True),
    Label("expense_total", r"支出(?:合计|总计|总额)|决算总支出|全年总支出"),
    Label("expense_total", r"按支出性质分", table_only=True),
    Label("expense_basic", r"基本支出"),
    Label("expense_project", r"项目支出"),
    Label("expense_personnel", r"人员经费(?:支出)?"),
    Label("expense_public", r"公用经费(?:支出)?"),
    Label("sangong_budget", rf"{SANGONG}(?:的)?预算(?:数)?"),
    Label("sangong_actual", rf"{SANGONG}(?:决算数|决算|支出合计|支出|合计)"),
    # 三公经费预算数12万元，实际支出9.85万元: the actual figure later in the same sentence
    Label("sangong_actual", rf"{SANGONG}预算数?[^。；;\n]{{0,20}}?[，,](?:全年)?(?:实际支出|决算支出|决算数|决算|实际)"),
    Label("sangong_actual", SANGONG, tier=2),
    Label("sangong_overseas_actual", r"因公出国\s*[(（]\s*境\s*[)）]\s*费(?:用)?|出国经费"),
    Label("sangong_vehicle_actual",
          r"公务用车购置(?:及|和)运行(?:维护)?费|公务用车购置和维护经费|公务用车运行(?:维护|维修)?费"),
    Label("sangong_reception_actual", r"公务接待费(?:用)?"),
    Label("procurement_actual", r"政府采购(?:支出|金额|总额)"),
    Label("assets_total", r"(?<![净动定])资产(?:总额|总计|共计|合计)"),  # not 净/流动/固定资产
    Label("liabilities_total", r"负债(?:总额|总计|合计|共计)"),
    Label("net_assets", r"(?<!和)净资产(?:总额)?"),  # not 负债和净资产合计
    Label("staff_authorized", r"(?<![行政事业工勤全额机关差额])(?:总)?编制(?:数|人数)?"),
    Label("staff_actual", r"年末在职(?:人员|人数)|在职(?:人员|人数)(?:总数)?|实际在职人数|财政供养在职"),
    Label("staff_actual", r"实有(?:人员|人数)", tier=2),
    Label("retirees", r"离退休(?:人员|人数)?"),
    Label("retirees", r"(?<!离)退休(?:人员|人数)?", tier=2),
    Label("vehicles", r"公务用车|公车"),
    Label("self_score", r"(?<!项目)(?<!项目的)(?:自评|自查|绩效评价|评价|综合)(?:综合)?(?:得分|评分|总分|分数)|总得分"),
    Label("execution_rate", r"(?:部门)?(?:整体)?预算执行率", tier=2),
]

# The units a value of each kind may carry in running text.
KIND_UNITS = {"money": MONEY_UNITS, "int": COUNT_UNITS, "percent": ("%", "％"), "score": ("分",)}

# Table rows whose first cell names a fact, values in later columns (基础数据表).
ROW_LABELS: dict[str, str] = {
    "sangong_actual": rf"^{SANGONG}[:：]?$|^{Q}三公{Q}经费合计$",
    "sangong_budget": rf"^{SANGONG}[:：]?$|^{Q}三公{Q}经费合计$",  # its 预算数 column
    "sangong_overseas_actual": r"^\d?[、.]?\s*(?:因公)?出国(?:[(（]境[)）])?(?:经)?费(?:用)?$",
    "sangong_vehicle_actual": r"^\d?[、.]?\s*公务用车购置(?:和|及)(?:运行)?维护(?:经)?费(?:用)?$",
    "sangong_reception_actual": r"^\d?[、.]?\s*公务接待(?:费)?$",
    "expense_project": r"^项目支出[:：]?$",
    "expense_basic": r"^基本支出[:：]?$",
    "expense_personnel": r"^人员经费[:：]?$",
    "expense_public": r"^公用经费[:：]?$",
    "procurement_actual": r"^政府采购(?:金额|支出)?[:：]?$",
}
# Column headers of money/people blocks (自评表 and 基础数据表): header text -> field.
COLUMN_LABELS: list[tuple[str, str]] = [
    (r"^年初预算数?$", "budget_initial"),
    (r"^全年预算数?$", "budget_full_year"),
    (r"^全年执行数?$", "spending_actual"),
    (r"^分值$", "execution_weight"),
    (r"^执行率$", "execution_rate"),
    (r"^(?:自评)?得分$", "execution_score"),
    (r"^编制数$", "staff_authorized"),
    (r"^(?:\d{4}年)?实际在职人数$", "staff_actual"),
    (r"^(?:\d{4}年)?(?:实有)?离退休人数$", "retirees"),
]
HEADER_ANCHORS = {"budget_initial", "budget_full_year", "spending_actual", "staff_authorized", "staff_actual"}
UNIT_ORG = re.compile(r"(人民政府|便民服务中心|服务中心|委员会|办公室|管理局|局|中心|院|所|站|队|馆|协会|学校|医院|公司|办事处|部"
                      r"|中学|小学|幼儿园|学院|大学|林场|农场|政府|社|厅|委|办)$")
