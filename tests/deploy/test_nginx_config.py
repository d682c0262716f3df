"""deploy/nginx/pleura.conf (issue 18, item 4): rendered as the nginx image renders it, `nginx -t` accepts it."""

from __future__ import annotations

from pathlib import Path

from tests.deploy.nginx_site import NGINX_TEMPLATE, nginx_test, render, template_variables, write_site


def test_nginx_accepts_the_rendered_config(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    site = write_site(tmp_path / "nginx", upstream="127.0.0.1:9", static_root=tmp_path / "static",
                      media_root=tmp_path, link_secret="a-link-secret")
    result = nginx_test(site)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr


def test_a_broken_config_is_refused(tmp_path: Path) -> None:
    """The check above can fail: nginx -t refuses a config with a directive it does not know."""
    (tmp_path / "static").mkdir()
    site = write_site(tmp_path / "nginx", upstream="127.0.0.1:9", static_root=tmp_path / "static",
                      media_root=tmp_path, link_secret="x")
    site.conf.write_text(site.conf.read_text().replace("events {", "no_such_directive on;\nevents {"))
    assert nginx_test(site).returncode != 0


def test_every_placeholder_is_rendered_and_nginx_variables_are_kept() -> None:
    text = NGINX_TEMPLATE.read_text()
    names = template_variables(text)
    assert names == {"PLEURA_WEB_UPSTREAM", "PLEURA_HTTP_LISTEN", "PLEURA_HTTPS_LISTEN", "PLEURA_SERVER_NAME",
                     "PLEURA_TLS_CERT", "PLEURA_TLS_KEY", "PLEURA_STATIC_ROOT", "PLEURA_MEDIA_ROOT",
                     "PLEURA_FRAME_LINK_SECRET"}
    rendered = render(text, dict.fromkeys(names, "X"))
    assert "${" not in rendered
    assert "$secure_link_expires$uri X" in rendered and "$http_upgrade" in rendered
