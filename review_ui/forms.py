"""The app's forms (flask-wtf: every one carries a CSRF token). Labels and messages in Chinese."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, MultipleFileField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from service.labels import ROLES
from service.threshold_report import parse_target
from service.units.registry import CATEGORIES, MAX_CODE, MAX_NAME

MIN_PASSWORD = 8  # as `jixiao users add` asks
PASSWORD_RULE = Length(min=MIN_PASSWORD, message=f"密码至少 {MIN_PASSWORD} 位")


class LoginForm(FlaskForm):
    name = StringField("用户名", validators=[DataRequired("请输入用户名")])
    password = PasswordField("密码", validators=[DataRequired("请输入密码")])


class UploadForm(FlaskForm):
    files = MultipleFileField("报告文件", validators=[DataRequired("请选择要上传的文件")])


class UserForm(FlaskForm):
    name = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=40)])
    role = SelectField("角色", choices=ROLES)
    password = PasswordField("初始密码", validators=[DataRequired("请输入密码"), PASSWORD_RULE])


class PasswordForm(FlaskForm):
    """An admin sets a new password for a user: asked twice."""
    password = PasswordField("新密码", validators=[DataRequired("请输入新密码"), PASSWORD_RULE])
    confirm = PasswordField("再次输入新密码", validators=[DataRequired("请再次输入新密码"),
                                                    EqualTo("password", message="两次输入的密码不一致")])


class RoleForm(FlaskForm):
    role = SelectField("角色", choices=ROLES)


class TokenForm(FlaskForm):
    name = StringField("用途", validators=[DataRequired("请写明令牌的用途，例如：市财政局数据平台"), Length(max=40)])


class PlainForm(FlaskForm):
    """A form with nothing but its CSRF token: confirm, retry, log out, deactivate."""


class ReopenForm(FlaskForm):
    reason = StringField("原因", validators=[DataRequired("请写明重新打开的原因"), Length(max=200)])


def _target_rule(form: FlaskForm, field: StringField) -> None:
    try:
        field.parsed = parse_target(field.data)
    except ValueError as e:
        raise ValidationError(str(e)) from None


class TargetForm(FlaskForm):
    """The calibration page's target escape rate: 0.003 or 0.3%, above 0 and below 1."""
    target = StringField("目标漏检率", validators=[DataRequired("请输入目标漏检率，例如 0.003 或 0.3%"),
                                                Length(max=20, message="目标漏检率过长"), _target_rule])


class UnitForm(FlaskForm):
    """A unit of the registry, added or changed by an admin (checked again by `service.units.registry`)."""
    name = StringField("名称", validators=[DataRequired("请输入单位名称"),
                                         Length(max=MAX_NAME, message=f"名称不能超过 {MAX_NAME} 个字")])
    # checked by clean_unit, in Chinese (wtforms' own "Not a valid choice" is English)
    category = SelectField("类别", choices={c: c for c in CATEGORIES}, validate_choice=False)
    code = StringField("代码（可选）", validators=[Optional(), Length(max=MAX_CODE, message=f"代码不能超过 {MAX_CODE} 个字符")])
    aliases = StringField("别名（可选，多个用「、」分隔）", validators=[Optional(), Length(max=2000)])


class UnitsImportForm(FlaskForm):
    file = FileField("单位名单（CSV 或 XLSX）", validators=[FileRequired("请选择要导入的 CSV 或 XLSX 文件")])


class UnitChoiceForm(FlaskForm):
    """A person says which unit of the list a report is: a unit's id, or empty for the automatic match."""
    unit = StringField("所属单位")
    next = HiddenField()
