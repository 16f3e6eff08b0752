"""The app's forms (flask-wtf: every one carries a CSRF token). Labels and messages in Chinese."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import MultipleFileField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

ROLE_CHOICES = {"operator": "上传员", "reviewer": "审核员", "admin": "管理员"}


class LoginForm(FlaskForm):
    name = StringField("用户名", validators=[DataRequired("请输入用户名")])
    password = PasswordField("密码", validators=[DataRequired("请输入密码")])


class UploadForm(FlaskForm):
    files = MultipleFileField("报告文件", validators=[DataRequired("请选择要上传的文件")])


class UserForm(FlaskForm):
    name = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=40)])
    role = SelectField("角色", choices=ROLE_CHOICES)
    password = PasswordField("初始密码", validators=[DataRequired("请输入密码"), Length(min=8, message="密码至少 8 位")])


class RoleForm(FlaskForm):
    role = SelectField("角色", choices=ROLE_CHOICES)


class PlainForm(FlaskForm):
    """A form with nothing but its CSRF token: confirm, retry, log out, deactivate."""


class ReopenForm(FlaskForm):
    reason = StringField("原因", validators=[DataRequired("请写明重新打开的原因"), Length(max=200)])
