"""Score tables and money blocks whose grid the text lost, rebuilt from the order of their cells.

Every text here is written for the test, in the forms reports arrive in when copied out of a web page, a
PDF or a spreadsheet: one cell per line with the header's cells broken over lines, `|` rows that drift and
lose their rowspan cells, runs separated by single spaces with empty cells dropped, cells run together
with no separator at all, a header whose words a copy scattered.
"""

from __future__ import annotations

from service.extract.llm.planner import REBUILT_TITLE, plan
from service.ingest import load_bytes
from service.ingest.stream_money import find_money_blocks
from service.ingest.stream_tables import find_stream_tables
from service.sections import split_sections
from service.settings import load_settings
from tests.test_rules import record_of_text, values

NATIVE = [  # (一级, 二级, 三级, 指标值, 完成值, 分值, 得分) as a grid would give them
    ("产出指标", "数量指标", "巡河次数", "≥120次", "136次", 20, 20),
    ("产出指标", "质量指标", "问题整改率", "100%", "96%", 20, 18),
    ("效益指标", "社会效益指标", "河道水质达标率", "≥90%", "92%", 30, 30),
    ("满意度指标", "服务对象满意度指标", "沿河群众满意度", "≥90%", "94%", 20, 19),
]
MONEY = "年度资金总额 | 120 | 150 | 141 | 10 | 94% | 9.4 |"


def _rows(record):
    return [(r["level1"], r["level2"], r["name"], r["target"], r["actual"], r["weight"], r["score"])
            for r in record["indicators"]]


def _one_cell_per_line() -> str:
    cells = ["一级", "指标", "二级", "指标", "三级指标", "年度", "指标值", "实际", "完成值", "分值", "得分",
             "偏差原因", "分析及", "改进措施"]
    for level1, level2, name, target, actual, weight, score in NATIVE:
        cells += [level1, level2, name, target, actual, str(weight), str(score), " "]
    cells += ["总分", "100", "96.4"]
    return ("某某县河长制工作中心2023年度部门整体支出绩效自评表\n\n（单位：万元）\n\n年初预算数\n\n全年预算数\n\n全年执行数\n\n分值\n\n"
            "执行率\n\n得分\n\n年度资金总额\n\n120\n\n150\n\n141\n\n10\n\n94%\n\n9.4\n\n" + "\n\n".join(cells) + "\n")


def test_one_cell_per_line_with_header_cells_broken_over_lines_gives_the_grids_rows():
    _doc, record = record_of_text(_one_cell_per_line())
    assert _rows(record) == [r for r in NATIVE]
    assert values(record)["self_score"] == 96.4
    assert (values(record)["budget_full_year"], values(record)["spending_actual"]) == (150, 141)
    # weights 90 + the rate's 10 make 100 and the scores 86.4 + 9.4 the stated 96.4: every number is in its column
    assert all(r["status"] == "accepted" for r in record["indicators"])


def test_drifting_pipe_rows_missing_their_rowspan_cells_get_their_levels_from_above():
    text = ("2023年度部门整体支出绩效自评表\n| 年初预算数 | 全年预算数 | 全年执行数 | 分值 | 执行率 | 得分 |\n" + MONEY +
            "\n绩效指标 | 一级指标 | 二级指标 | 三级指标 | 年度指标值 | 实际完成值 | 分值 | 得分 | 备注 |\n"
            "| 产出指标 | 数量指标 | 巡河次数 | ≥120次 | 136次 | 20 | 20 | 无 |\n"
            "质量指标 | 问题整改率 | 100% |\n| 96% | 20 | 18 | 个别问题 |\n"
            "效益指标 | 社会效益指标 | 河道水质达标率 | ≥90% | 92% | 30 | 30 | 无 |\n"
            "满意度指标 | 服务对象满意度指标 | 沿河群众满意度 | ≥90% | 94% | 20 | 19 | 无 |\n总分 | 100 | 96.4 |\n")
    _doc, record = record_of_text(text)
    assert _rows(record) == NATIVE
    assert [r["remark"] for r in record["indicators"]] == ["无", "个别问题", "无", "无"]


def test_empty_cells_dropped_from_space_separated_rows_are_inferred_and_sent_to_review_with_the_reason():
    text = ("项目支出绩效自评表\n(2023年度)\n项目名称 河道保洁经费\n一级指标 二级指标 三级指标 年度指标值 实际完成值 分值 得分\n"
            "产出指标 数量指标 指标1:保洁河道长度 30公里 30公里 40 40\n质量指标 指标1:保洁质量达标 30 28\n"
            "满意度指标 满意度指标 指标1:群众满意度 90% 95% 20 20\n总分 100 98\n")
    _doc, record = record_of_text(text)
    rows = {r["name"]: r for r in record["indicators"]}
    assert set(rows) == {"指标1:保洁河道长度", "指标1:保洁质量达标", "指标1:群众满意度"}
    quality = rows["指标1:保洁质量达标"]
    assert (quality["target"], quality["actual"], quality["weight"], quality["score"]) == (None, None, 30, 28)
    assert all(r["table"] == "河道保洁经费" for r in rows.values())
    # 90 of 100 weights and no money block: nothing shows the two numbers are 分值 and 得分, so a person checks
    assert quality["status"] == "review" and any("单元格缺失" in i for i in quality["issues"])
    assert all(r["status"] == "review" for r in rows.values())


def test_cells_run_together_without_separators_are_cut_at_numbers_and_level_words_and_reviewed():
    text = ("绩效目标自评表(2023年度)项目名称河道清淤工程主管部门某某县水利局实施单位某某县水利局绩效指标一级指标二级指标"
            "三级指标分值年度指标值全年实际值得分备注产出指标(60分)数量指标清淤河道长度30≥5公里≥5公里30质量指标"
            "验收合格率30100%100%30效益指标(30分)社会效益指标防洪能力提升30显著提升显著提升30总分9090\n")
    _doc, record = record_of_text(text)
    assert _rows(record) == [
        ("产出指标", "数量指标", "清淤河道长度", "≥5公里", "≥5公里", 30, 30),
        ("产出指标", "质量指标", "验收合格率", "100%", "100%", 30, 30),
        ("效益指标", "社会效益指标", "防洪能力提升", "显著提升", "显著提升", 30, 30),
    ]
    assert all(r["status"] == "review" and any("连写" in i for i in r["issues"]) for r in record["indicators"])
    assert values(record)["unit_name"] == "某某县水利局"


def test_a_unit_column_printed_before_the_values_is_not_written_into_them():
    text = ("项目支出绩效自评表\n(2023年度)\n项目名称 森林管护经费\n"
            "指标名称 计量单位 指标性质 指标值 分值 完成值 得分\n"
            "管护任务完成率 % ≥ 90 50 100 50\n森林火灾受害率 % ≤ 0.9 50 0 50\n总分 100 100\n")
    _doc, record = record_of_text(text)
    assert [(r["name"], r["target"], r["actual"], r["weight"], r["score"]) for r in record["indicators"]] == [
        ("管护任务完成率", "≥90", "100", 50, 50), ("森林火灾受害率", "≤0.9", "0", 50, 50)]


def test_a_unit_printed_after_the_target_value_is_part_of_it():
    text = ("项目支出绩效自评表\n(2023年度)\n项目名称 学生资助\n"
            "三级指标 指标性质 指标值 度量单位 实际完成值 分值 得分\n"
            "受资助人数 ≥ 735 人次 735 50 50\n资助发放及时率 ＝ 100 % 100% 50 48\n总分 100 98\n")
    _doc, record = record_of_text(text)
    assert [(r["name"], r["target"], r["actual"]) for r in record["indicators"]] == [
        ("受资助人数", "≥735人次", "735"), ("资助发放及时率", "＝100%", "100%")]


def test_a_header_whose_words_a_copy_scattered_reads_rows_in_the_usual_order_for_review():
    text = ("项目支出绩效自评表 (2023年度) 项目名称 基本公共卫生服务 年度 实际 指标值 完成值 二级指标 三级指标 分值 得分 "
            "指标1:建立居民健康档案 9000人 9120人 5 5 指标2:老年人体检率 70% 68% 5 4.5 指标3:儿童健康管理率 90% 93% 5 5\n")
    _doc, record = record_of_text(text)
    assert [(r["name"], r["target"], r["actual"], r["weight"], r["score"]) for r in record["indicators"]] == [
        ("指标1:建立居民健康档案", "9000人", "9120人", 5, 5), ("指标2:老年人体检率", "70%", "68%", 5, 4.5),
        ("指标3:儿童健康管理率", "90%", "93%", 5, 5)]
    assert all(r["status"] == "review" and any("表头文字顺序" in i for i in r["issues"])
               for r in record["indicators"])


def test_a_value_in_the_name_column_sends_the_row_to_review():
    text = ("2023年度部门整体支出绩效自评表\n| 一级指标 | 二级指标 | 三级指标 | 年度指标值 | 实际完成值 | 分值 | 得分 |\n"
            "| 产出指标 | 数量指标 | 136次 | 巡河次数 | ≥120次 | 20 | 20 |\n")
    _doc, record = record_of_text(text)
    (row,) = record["indicators"]
    assert row["status"] == "review" and row["issues"]


def test_a_money_row_missing_a_cell_puts_its_numbers_by_kind_and_says_so():
    text = ("项目名称 | 河道保洁经费 |\n| 年初预算数 | 全年预算数 | 全年执行数 | 分值 | 执行率 | 得分 |\n年度资金总额 |\n"
            "| 32.4 | 31.69 | 10 | 97.80% | 9 |\n")
    (block,) = find_money_blocks(text)
    header, row = block.rows
    assert [c.text for c in row] == ["年度资金总额", "", "32.4", "31.69", "10", "97.80%", "9"]
    assert "年初预算数" in block.guessed[1][1]  # 31.69 / 32.4 = 97.8%: the two amounts are 全年预算数 and 执行数


def test_a_lone_number_under_a_money_header_is_a_serial_number_not_the_budget():
    text = "序号\t项目名称\t年初预算数\t全年预算数\t实际支出\t执行率\t自评得分\n1\t河道保洁\t120\t135\t128\t95%\t88\n"
    assert find_money_blocks(text) == []


def test_a_table_rebuilt_from_its_cells_goes_to_the_model_in_canonical_rows_and_a_grid_as_printed():
    doc = load_bytes(_one_cell_per_line().encode("utf-8"), "x.txt", load_settings(env={}))
    (table,) = [t for t in find_stream_tables(doc.text)]
    calls = plan(doc, split_sections(doc))
    sent = "\n".join(c.text(doc) for c in calls)
    assert f"【{REBUILT_TITLE}】" in sent
    assert "| 产出指标 | 质量指标 | 问题整改率 | 100% | 96% | 20 | 18 |  |" in sent
    assert table.rows[2][2].text == "问题整改率"
    tab = ("2023年度部门整体支出绩效自评表\n\t一级指标\n\t二级指标\n\t三级指标\n\t分值\n\t得分\n\n"
           "\t产出指标\n\t数量指标\n\t巡河次数\n\t20\n\t20\n\n")
    doc = load_bytes(tab.encode("utf-8"), "y.txt", load_settings(env={}))
    assert REBUILT_TITLE not in "\n".join(c.text(doc) for c in plan(doc, split_sections(doc)))


def test_a_row_missing_one_of_its_values_stays_in_review_even_when_the_table_adds_up():
    text = _one_cell_per_line().replace("100%\n\n96%\n\n20\n\n18", "96%\n\n20\n\n18")  # 问题整改率 lost its 指标值
    _doc, record = record_of_text(text)
    row = next(r for r in record["indicators"] if r["name"] == "问题整改率")
    assert (row["weight"], row["score"]) == (20, 18)
    assert row["status"] == "review"  # 96% may be its 指标值 or its 完成值: the sums cannot tell
    assert all(r["status"] == "accepted" for r in record["indicators"] if r["name"] != "问题整改率")


def test_a_sentence_about_a_department_is_no_unit_name():
    _doc, record = record_of_text("部门决算由县财政局审核后公开。\n" * 3 + "某某县水利局2023年度部门整体支出绩效自评报告\n")
    assert values(record).get("unit_name") != "决算由县财政局"
