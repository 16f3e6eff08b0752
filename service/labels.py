"""How the product names review actions and items to its users (Chinese), for every layer that says so.

The review page, the change history and the store's refusals ("…之后已被他人修改") all name an item
(年初预算数, 评分表第 3 行, 项目 1, 存在的问题) and an action (确认无误, 撤销…) the same way; the words live
here so that none of them reaches into another's module for them.
"""

from __future__ import annotations

from service.fields import BY_KEY

LISTS = {"problems": "存在的问题", "measures": "改进措施"}
ROLES = {"operator": "上传员", "reviewer": "审核员", "admin": "管理员"}  # a user's role -> its name

ACTIONS = {"accept": "确认无误", "correct": "更正", "not_stated": "标记为未提及", "delete": "删除此行"}
AUDIT_NAMES = {**ACTIONS, "add": "新增此行", "upload": "上传", "extracted": "提取完成", "failed": "提取失败", "retry": "重试",
               "confirm": "确认入库", "reopen": "重新打开", "cancel": "取消处理", "reextract": "重新提取",
               "requeued": "超时重新排队", "undo": "撤销", "superseded": "被同单位同年度的另一份取代",
               "current_again": "恢复为当前记录", "bulk_accept": "批量接受",
               "remove": "删除上传", "replace": "替换上传", "unit_choice": "指定所属单位",
               "unit_choice_cleared": "取消指定的单位"}
UNIT_AUDIT_NAMES = {"add": "新增", "update": "修改", "delete": "删除", "import_add": "导入新增",
                    "import_update": "导入更新"}  # unit_audit actions -> their names


def item_label(item: str) -> str:
    """A review item as a reviewer calls it: 年初预算数, 评分表第 3 行, 项目 1, 存在的问题."""
    kind, _, key = item.partition(":")
    if kind == "field":
        return BY_KEY[key].zh if key in BY_KEY else key
    if kind == "list":
        return LISTS.get(key, key)
    if not key.isdigit():
        return item
    return f"评分表第 {int(key) + 1} 行" if kind == "indicator" else f"项目 {int(key) + 1}"
