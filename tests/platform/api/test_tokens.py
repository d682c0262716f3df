"""API tokens (issue 16, item 13): they never expired and survived a password change. Now a token lives
PLEURA_TOKEN_TTL_HOURS (an expired one is a 401 that says so), every password change (API, Django admin,
`changepassword`, set_password anywhere) revokes the user's tokens, and POST /api/auth/token/revoke/ logs out."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Role, User
from accounts.services import user_ensure, user_update

pytestmark = pytest.mark.django_db
PASSWORD = "a-good-password-42"
NEW_PASSWORD = "another-good-password-43"


@pytest.fixture
def alice() -> User:
    return user_ensure(username="alice", role=Role.ANNOTATOR, validation_level=1, password=PASSWORD)


def login(username: str = "alice", password: str = PASSWORD) -> dict:
    response = APIClient().post("/api/auth/token/", {"username": username, "password": password}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def get_with(key: str, path: str = "/api/videos/"):  # type: ignore[no-untyped-def]
    return APIClient().get(path, HTTP_AUTHORIZATION=f"Token {key}")


def test_a_token_works_until_it_expires_then_is_a_clear_401(alice):
    issued = login()
    assert get_with(issued["token"]).status_code == 200
    expires = timezone.datetime.fromisoformat(issued["expires"])
    assert timedelta(hours=167) < expires - timezone.now() <= timedelta(hours=168)  # the default, a week

    Token.objects.filter(key=issued["token"]).update(created=timezone.now() - timedelta(hours=168, seconds=1))
    expired = get_with(issued["token"])
    assert expired.status_code == 401 and expired["WWW-Authenticate"] == "Token"
    assert "expired" in expired.json()["detail"] and "/api/auth/token/" in expired.json()["detail"]


@override_settings(PLEURA_TOKEN_TTL_HOURS=1)
def test_the_ttl_is_a_setting_and_a_new_login_replaces_an_expired_token(alice):
    first = login()
    assert login()["token"] == first["token"]  # still valid: the same token
    Token.objects.filter(user=alice).update(created=timezone.now() - timedelta(minutes=61))
    assert get_with(first["token"]).status_code == 401
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first['token']}")  # a client still sending the old one
    second = client.post("/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json").json()
    assert second["token"] != first["token"] and get_with(second["token"]).status_code == 200


def test_an_unknown_token_is_401_and_session_logins_still_work(alice):
    assert get_with("0" * 40).status_code == 401
    client = Client()
    client.force_login(alice)
    assert client.get("/api/videos/").status_code == 200


def _by_api(user: User) -> None:
    admin = user_ensure(username="boss", role=Role.ADMIN, validation_level=4)
    client = APIClient()
    client.force_authenticate(admin)
    assert client.patch(f"/api/users/{user.pk}/", {"password": NEW_PASSWORD}, format="json").status_code == 200


def _by_django_admin(user: User) -> None:
    admin = user_ensure(username="boss", role=Role.ADMIN, validation_level=4, is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    response = client.post(f"/admin/accounts/user/{user.pk}/password/",
                           {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})
    assert response.status_code == 302, response.content.decode()[:2000]


def _by_changepassword(user: User) -> None:
    with mock.patch("getpass.getpass", return_value=NEW_PASSWORD):
        call_command("changepassword", user.username, stdout=mock.MagicMock())


def _by_set_password(user: User) -> None:
    user.set_password(NEW_PASSWORD)
    user.save()


def _by_service(user: User) -> None:
    user_update(user=user, password=NEW_PASSWORD)


@pytest.mark.parametrize("change", [_by_api, _by_django_admin, _by_changepassword, _by_set_password, _by_service])
def test_a_password_change_revokes_the_users_tokens(alice, change):
    bob = user_ensure(username="bob", role=Role.ANNOTATOR, validation_level=1, password=PASSWORD)
    old, bobs = login()["token"], login("bob")["token"]
    change(User.objects.get(pk=alice.pk))
    assert User.objects.get(pk=alice.pk).check_password(NEW_PASSWORD)
    assert get_with(old).status_code == 401
    assert not Token.objects.filter(user=alice).exists()
    assert get_with(bobs).status_code == 200 and bob.auth_token.key == bobs  # only hers
    assert get_with(login(password=NEW_PASSWORD)["token"]).status_code == 200


def test_saving_a_user_without_a_password_change_keeps_the_token(alice):
    key = login()["token"]
    user_update(user=User.objects.get(pk=alice.pk), first_name="Alice")
    client = Client()
    client.force_login(alice)  # updates last_login only
    assert get_with(key).status_code == 200


def test_revoke_logs_the_token_out(alice):
    key = login()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.post("/api/auth/token/revoke/").status_code == 204
    assert get_with(key).status_code == 401
    assert APIClient().post("/api/auth/token/revoke/").status_code == 401  # anonymous: nothing to revoke


def test_a_deactivated_users_token_is_401_and_the_user_is_the_whole_row(alice):
    """The token and its user come from one raw statement (accounts.tokens): every field is loaded."""
    issued = login()
    seen = APIClient().get("/api/auth/me/", HTTP_AUTHORIZATION=f"Token {issued['token']}")
    if seen.status_code == 200:  # the profile endpoint, where the deployment has it
        assert seen.json()["username"] == "alice"
    from accounts.tokens import ExpiringTokenAuthentication

    user, token = ExpiringTokenAuthentication().authenticate_credentials(issued["token"])
    fresh = User.objects.get(pk=alice.pk)
    assert token.key == issued["token"] and token.user_id == alice.pk
    assert {f.attname: getattr(user, f.attname) for f in User._meta.concrete_fields} == {
        f.attname: getattr(fresh, f.attname) for f in User._meta.concrete_fields}
    User.objects.filter(pk=alice.pk).update(is_active=False)
    refused = get_with(issued["token"])
    assert refused.status_code == 401 and "inactive" in refused.json()["detail"]
