"""API tokens (admins): issue one for a program that reads the JSON API, see them all, revoke one.

The token is shown once, on the page the admin gets right after issuing it; the store keeps its SHA-256
(service.api_tokens). Revoked tokens stay listed, with who revoked them and when.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for

from service import api_tokens

from .auth import login_required
from .db import get_store
from .forms import PlainForm, TokenForm

bp = Blueprint("tokens", __name__, url_prefix="/admin/tokens")


@bp.route("", methods=("GET", "POST"))
@login_required("admin")
def index():
    form = TokenForm()
    issued = None
    if form.validate_on_submit():
        token, digest = api_tokens.new_token()
        name = form.name.data.strip()
        get_store().issue_token(name, digest, g.user["name"])
        issued = {"name": name, "token": token}
        form = TokenForm(formdata=None)
    status = 400 if form.errors else 200
    page = render_template("admin/tokens.html", form=form, plain=PlainForm(), issued=issued,
                           tokens=get_store().list_tokens())
    # the page that shows a token once must not be kept by the browser or a proxy
    return page, status, {"Cache-Control": "no-store"}


@bp.route("/<int:token_id>/revoke", methods=("POST",))
@login_required("admin")
def revoke(token_id: int):
    if not PlainForm().validate_on_submit():
        abort(400)
    if get_store().revoke_token(token_id, g.user["name"]):
        flash("令牌已撤销，使用它的程序将无法再读取数据", "ok")
    else:
        flash("没有这个令牌，或它已被撤销", "error")
    return redirect(url_for("tokens.index"), 303)
